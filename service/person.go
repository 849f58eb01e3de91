package service

// IDType is the kind of identity document. The set is closed.
type IDType string

// Accepted identity documents.
const (
	IDResident         IDType = "resident_id"        // 居民身份证, 18 digits
	IDHKMacauResidence IDType = "hk_macau_residence" // 港澳居民居住证, 810000/820000 prefix
	IDTaiwanResidence  IDType = "taiwan_residence"   // 台湾居民居住证, 830000 prefix
	IDHKMacauTravel    IDType = "hk_macau_travel"    // 港澳居民来往内地通行证 (回乡证)
	IDTaiwanTravel     IDType = "taiwan_travel"      // 台湾居民来往大陆通行证 (台胞证)
	IDForeignPermanent IDType = "foreign_permanent"  // 外国人永久居留身份证, 18 digits or old 15 chars
)

// Person is an insured person: the verified identity of a user, or a family
// member a user pays for. Name and IDNumber are plaintext in the domain only;
// stores encrypt them and replies show masked forms.
type Person struct {
	ID       int64
	Name     string
	IDType   IDType
	IDNumber string
	Phone    string
}

// PersonRef is what a provincial platform needs to find a person.
type PersonRef struct {
	Name     string
	IDType   IDType
	IDNumber string
}

// Ref returns the platform reference of p.
func (p *Person) Ref() PersonRef {
	return PersonRef{Name: p.Name, IDType: p.IDType, IDNumber: p.IDNumber}
}

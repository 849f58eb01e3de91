// Package regions holds the rules of every supported region as data: one
// YAML file per region under data/, embedded into the binary. Load decodes
// and validates them; a bad file stops the server with an error naming the
// file and the field.
//
// Every figure and rule (base bounds, tiers, rates, bundling, periods,
// prepayment window, arrears view, identity methods, channels, mutual aid,
// payment limit, average wage) carries a source tag: "sourced" with a note
// naming the source and its grade (S1/S2/S3 of
// shared/reference/social-insurance.md), or "illustrative" for a placeholder
// or a derived figure that must be confirmed before production. Rates,
// bundling and prepayment rules are effective-dated (from/to months).
package regions

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/shebao/sipay/service"
)

//go:embed data/*.yaml
var data embed.FS

// Load returns the embedded regions, sorted by code, each validated.
func Load() ([]service.Region, error) {
	return LoadFS(data, "data")
}

// LoadFS reads every *.yaml file in dir of fsys. The file name without
// extension must equal the region code, and codes must be unique.
func LoadFS(fsys fs.FS, dir string) ([]service.Region, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("regions: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("regions: no region files in %s", dir)
	}
	sort.Strings(names)
	out := make([]service.Region, 0, len(names))
	seen := map[string]string{}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("regions: %s: %w", name, err)
		}
		r, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("regions: %s: %w", name, err)
		}
		if want := strings.TrimSuffix(path.Base(name), ".yaml"); r.Code != want {
			return nil, fmt.Errorf("regions: %s: code: %q does not match the file name %q", name, r.Code, want)
		}
		if other, dup := seen[r.Code]; dup {
			return nil, fmt.Errorf("regions: %s: code: %q already defined in %s", name, r.Code, other)
		}
		seen[r.Code] = name
		out = append(out, r)
	}
	return out, nil
}

// Parse decodes one region file and validates it. Unknown keys are errors,
// so a misspelt field never silently falls back to zero.
func Parse(b []byte) (service.Region, error) {
	var f regionFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return service.Region{}, fmt.Errorf("decode: %w", err)
	}
	r := toRegion(f)
	if err := r.Validate(); err != nil {
		return service.Region{}, err
	}
	return r, nil
}

type figureFile struct {
	Source     string `yaml:"source"`
	SourceNote string `yaml:"source_note"`
}

type tierFile struct {
	Code       string `yaml:"code"`
	Name       string `yaml:"name"`
	BaseFen    int64  `yaml:"base_fen"`
	figureFile `yaml:",inline"`
}

type periodFile struct {
	From       string     `yaml:"from"`
	To         string     `yaml:"to"`
	MinFen     int64      `yaml:"min_fen"`
	MaxFen     int64      `yaml:"max_fen"`
	Tiers      []tierFile `yaml:"tiers"`
	figureFile `yaml:",inline"`
}

type rateFile struct {
	Insurance         string `yaml:"insurance"`
	From              string `yaml:"from"`
	To                string `yaml:"to"`
	RateBP            int64  `yaml:"rate_bp"`
	PersonalAccountBP int64  `yaml:"personal_account_bp"`
	BaseRule          string `yaml:"base_rule"`
	figureFile        `yaml:",inline"`
}

type bundlingFile struct {
	From                string `yaml:"from"`
	To                  string `yaml:"to"`
	MedicalNeedsPension bool   `yaml:"medical_needs_pension"`
	PensionNeedsMedical bool   `yaml:"pension_needs_medical"`
	figureFile          `yaml:",inline"`
}

type prepayFile struct {
	From       string `yaml:"from"`
	To         string `yaml:"to"`
	CapMonths  int    `yaml:"cap_months"`
	figureFile `yaml:",inline"`
}

type identityFile struct {
	Methods    []string `yaml:"methods"`
	All        bool     `yaml:"all"`
	figureFile `yaml:",inline"`
}

type listFile struct {
	Values     []string `yaml:"values"`
	figureFile `yaml:",inline"`
}

type periodMonthsFile struct {
	Values     []int `yaml:"values"`
	figureFile `yaml:",inline"`
}

type flagFile struct {
	Value      bool `yaml:"value"`
	figureFile `yaml:",inline"`
}

type arrearsFile struct {
	View       string `yaml:"view"`
	figureFile `yaml:",inline"`
}

type regionFile struct {
	Code               string           `yaml:"code"`
	Name               string           `yaml:"name"`
	PolicyNote         string           `yaml:"policy_note"`
	BaseMode           string           `yaml:"base_mode"`
	Periods            []periodFile     `yaml:"periods"`
	Rates              []rateFile       `yaml:"rates"`
	Bundling           []bundlingFile   `yaml:"bundling"`
	PeriodMonths       periodMonthsFile `yaml:"period_months"`
	Prepay             []prepayFile     `yaml:"prepay"`
	Arrears            arrearsFile      `yaml:"arrears"`
	Identity           identityFile     `yaml:"identity"`
	PaymentChannels    listFile         `yaml:"payment_channels"`
	MutualAid          flagFile         `yaml:"mutual_aid"`
	PaymentLimitFen    int64            `yaml:"payment_limit_fen"`
	PaymentLimitSource figureFile       `yaml:"payment_limit_source"`
	IDTypes            []string         `yaml:"id_types"`
	AvgWageFen         int64            `yaml:"avg_wage_fen"`
	AvgWageSource      figureFile       `yaml:"avg_wage_source"`
	PaymentDeadline    deadlineFile     `yaml:"payment_deadline"`
	CreditPay          *creditPayFile   `yaml:"credit_pay"`
}

type deadlineFile struct {
	Day        int `yaml:"day"`
	figureFile `yaml:",inline"`
}

func toFigure(f figureFile) service.Figure {
	return service.Figure{Source: service.SourceTag(f.Source), Note: f.SourceNote}
}

func toRegion(f regionFile) service.Region {
	r := service.Region{
		Code: f.Code, Name: f.Name, PolicyNote: strings.TrimSpace(f.PolicyNote),
		BaseMode:     service.BaseMode(f.BaseMode),
		PeriodMonths: f.PeriodMonths.Values, PeriodMonthsSource: toFigure(f.PeriodMonths.figureFile),
		ArrearsView: service.ArrearsView(f.Arrears.View), ArrearsViewSource: toFigure(f.Arrears.figureFile),
		IdentityMethods: f.Identity.Methods, IdentityAll: f.Identity.All, IdentitySource: toFigure(f.Identity.figureFile),
		PaymentChannels: f.PaymentChannels.Values, PaymentChannelsSource: toFigure(f.PaymentChannels.figureFile),
		MutualAid: f.MutualAid.Value, MutualAidSource: toFigure(f.MutualAid.figureFile),
		PaymentLimitFen: service.Fen(f.PaymentLimitFen), PaymentLimitSource: toFigure(f.PaymentLimitSource),
		AvgWageFen: service.Fen(f.AvgWageFen), AvgWageSource: toFigure(f.AvgWageSource),
		PaymentDeadlineDay: f.PaymentDeadline.Day, PaymentDeadlineSource: toFigure(f.PaymentDeadline.figureFile),
	}
	for _, p := range f.Periods {
		bp := service.BasePeriod{From: p.From, To: p.To, MinFen: service.Fen(p.MinFen), MaxFen: service.Fen(p.MaxFen),
			Figure: toFigure(p.figureFile)}
		for _, t := range p.Tiers {
			bp.Tiers = append(bp.Tiers, service.Tier{Code: t.Code, Name: t.Name, BaseFen: service.Fen(t.BaseFen), Figure: toFigure(t.figureFile)})
		}
		r.Periods = append(r.Periods, bp)
	}
	for _, x := range f.Rates {
		r.Rates = append(r.Rates, service.InsuranceRate{Insurance: x.Insurance, From: x.From, To: x.To, RateBP: x.RateBP,
			PersonalAccountBP: x.PersonalAccountBP, BaseRule: x.BaseRule, Figure: toFigure(x.figureFile)})
	}
	for _, b := range f.Bundling {
		r.Bundling = append(r.Bundling, service.BundlingRule{From: b.From, To: b.To, MedicalNeedsPension: b.MedicalNeedsPension,
			PensionNeedsMedical: b.PensionNeedsMedical, Figure: toFigure(b.figureFile)})
	}
	for _, p := range f.Prepay {
		r.Prepay = append(r.Prepay, service.PrepayRule{From: p.From, To: p.To, CapMonths: p.CapMonths, Figure: toFigure(p.figureFile)})
	}
	for _, t := range f.IDTypes {
		r.IDTypes = append(r.IDTypes, service.IDType(t))
	}
	r.CreditPay = toCreditPay(f.CreditPay)
	return r
}

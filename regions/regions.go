// Package regions holds the rules of every supported region as data: one
// YAML file per region under data/, embedded into the binary. Load decodes
// and validates them; a bad file stops the server with an error naming the
// file and the field.
//
// Every figure (base bounds, tiers, rates, payment limit, average wage)
// carries a source tag: "sourced" with a note naming the source, or
// "illustrative" for a placeholder that must be confirmed before production.
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
	RateBP            int64  `yaml:"rate_bp"`
	PersonalAccountBP int64  `yaml:"personal_account_bp"`
	figureFile        `yaml:",inline"`
}

type regionFile struct {
	Code               string       `yaml:"code"`
	Name               string       `yaml:"name"`
	PolicyNote         string       `yaml:"policy_note"`
	BaseMode           string       `yaml:"base_mode"`
	Periods            []periodFile `yaml:"periods"`
	Rates              []rateFile   `yaml:"rates"`
	MedicalBundled     bool         `yaml:"medical_bundled"`
	PeriodMonths       []int        `yaml:"period_months"`
	PrepayCapMonths    int          `yaml:"prepay_cap_months"`
	ArrearsView        string       `yaml:"arrears_view"`
	IdentityMethods    []string     `yaml:"identity_methods"`
	PaymentChannels    []string     `yaml:"payment_channels"`
	MutualAid          bool         `yaml:"mutual_aid"`
	PaymentLimitFen    int64        `yaml:"payment_limit_fen"`
	PaymentLimitSource figureFile   `yaml:"payment_limit_source"`
	IDTypes            []string     `yaml:"id_types"`
	AvgWageFen         int64        `yaml:"avg_wage_fen"`
	AvgWageSource      figureFile   `yaml:"avg_wage_source"`
}

func toFigure(f figureFile) service.Figure {
	return service.Figure{Source: service.SourceTag(f.Source), Note: f.SourceNote}
}

func toRegion(f regionFile) service.Region {
	r := service.Region{
		Code: f.Code, Name: f.Name, PolicyNote: strings.TrimSpace(f.PolicyNote),
		BaseMode: service.BaseMode(f.BaseMode), MedicalBundled: f.MedicalBundled,
		PeriodMonths: f.PeriodMonths, PrepayCapMonths: f.PrepayCapMonths,
		ArrearsView: service.ArrearsView(f.ArrearsView), IdentityMethods: f.IdentityMethods,
		PaymentChannels: f.PaymentChannels, MutualAid: f.MutualAid,
		PaymentLimitFen: service.Fen(f.PaymentLimitFen), PaymentLimitSource: toFigure(f.PaymentLimitSource),
		AvgWageFen: service.Fen(f.AvgWageFen), AvgWageSource: toFigure(f.AvgWageSource),
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
		r.Rates = append(r.Rates, service.InsuranceRate{Insurance: x.Insurance, RateBP: x.RateBP,
			PersonalAccountBP: x.PersonalAccountBP, Figure: toFigure(x.figureFile)})
	}
	for _, t := range f.IDTypes {
		r.IDTypes = append(r.IDTypes, service.IDType(t))
	}
	return r
}

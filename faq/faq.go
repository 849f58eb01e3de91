// Package faq holds the smart FAQ's knowledge base as data
// (data/faq.yaml, embedded): Chinese questions, answers, their plain care-mode
// variants, keywords and synonym groups. Load decodes and validates it; the
// ranking is service.HelpService's.
package faq

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/shebao/sipay/service"
)

//go:embed data/faq.yaml
var data []byte

type entryFile struct {
	ID       string   `yaml:"id"`
	Category string   `yaml:"category"`
	Question string   `yaml:"question"`
	Keywords []string `yaml:"keywords"`
	Answer   string   `yaml:"answer"`
	Plain    string   `yaml:"plain"`
}

type file struct {
	Synonyms [][]string  `yaml:"synonyms"`
	Entries  []entryFile `yaml:"entries"`
}

// Load returns the embedded knowledge base.
func Load() (service.FAQ, error) { return Parse(data) }

// Parse decodes a knowledge base; unknown keys are errors.
func Parse(b []byte) (service.FAQ, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return service.FAQ{}, fmt.Errorf("faq: decode: %w", err)
	}
	out := service.FAQ{Synonyms: f.Synonyms}
	for _, e := range f.Entries {
		// YAML block scalars keep line breaks; the answer is one paragraph.
		answer := strings.Join(strings.Fields(e.Answer), "")
		out.Entries = append(out.Entries, service.FAQEntry{ID: e.ID, Category: e.Category, Question: strings.TrimSpace(e.Question),
			Answer: answer, Plain: strings.TrimSpace(e.Plain), Keywords: e.Keywords})
	}
	if err := out.Validate(); err != nil {
		return service.FAQ{}, err
	}
	return out, nil
}

package service

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// The FAQ ranker: Okapi BM25 over character bigrams (plus unigrams at a
// lower weight) with synonym expansion. Chinese has no spaces, and a
// dictionary segmenter (go-ego/gse, the kept pure-Go one) embeds 37 MB of
// dictionaries and still splits our domain words (电子社保卡, 原路退回)
// unpredictably; bigrams need no dictionary, match partial phrasings and
// are exact about the few dozen answers we rank. docs/operations.md, "Smart
// FAQ", says why and how to extend the data.

// BM25 parameters (the usual defaults).
const (
	bm25K1 = 1.2
	bm25B  = 0.75
	// unigramWeight is a single character's weight next to a bigram's 1.
	unigramWeight = 0.25
)

// Field weights: a term in the keywords counts three times, in the
// question twice, in the answer once.
const (
	weightKeywords = 3
	weightQuestion = 2
	weightAnswer   = 1
)

// stopRunes are characters too common in questions to say anything alone.
var stopRunes = map[rune]bool{'的': true, '了': true, '吗': true, '我': true, '是': true, '么': true, '怎': true, '什': true,
	'呢': true, '啊': true, '吧': true, '在': true, '有': true, '和': true, '还': true, '就': true, '都': true, '会': true, '要': true,
	'？': true, '，': true, '。': true, '、': true, '！': true}

// helpTokens splits text into weighted terms: every pair of adjacent Han
// characters, every Han character (low weight, stop characters dropped),
// and lower-cased runs of letters and digits (12333, out_trade_no).
func helpTokens(s string) map[string]float64 {
	out := map[string]float64{}
	var han []rune
	var word []rune
	flushWord := func() {
		if len(word) > 0 {
			out[strings.ToLower(string(word))]++
			word = word[:0]
		}
	}
	flushHan := func() {
		for i, r := range han {
			if !stopRunes[r] {
				out[string(r)] += unigramWeight
			}
			if i+1 < len(han) {
				out[string(han[i:i+2])]++
			}
		}
		han = han[:0]
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			flushWord()
			han = append(han, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
			flushHan()
			word = append(word, r)
		default:
			flushHan()
			flushWord()
		}
	}
	flushHan()
	flushWord()
	return out
}

// faqIndex ranks FAQ entries with BM25.
type faqIndex struct {
	docs     []map[string]float64 // term → weighted frequency
	lens     []float64
	avgLen   float64
	idf      map[string]float64
	synonyms [][]string
}

func newFAQIndex(entries []FAQEntry, synonyms [][]string) *faqIndex {
	ix := &faqIndex{idf: map[string]float64{}, synonyms: synonyms}
	df := map[string]int{}
	var sumLen float64 // BM25 document lengths (token weights), not money
	for _, e := range entries {
		doc := map[string]float64{}
		add := func(text string, w float64) {
			for t, n := range helpTokens(text) {
				doc[t] += n * w
			}
		}
		add(strings.Join(e.Keywords, "，"), weightKeywords)
		add(e.Question, weightQuestion)
		add(e.Answer, weightAnswer)
		var l float64
		for t, n := range doc {
			df[t]++
			l += n
		}
		ix.docs = append(ix.docs, doc)
		ix.lens = append(ix.lens, l)
		sumLen += l
	}
	if len(entries) > 0 {
		ix.avgLen = sumLen / float64(len(entries))
	}
	n := float64(len(entries))
	for t, d := range df {
		ix.idf[t] = math.Log(1 + (n-float64(d)+0.5)/(float64(d)+0.5))
	}
	return ix
}

// expand returns, for every synonym group the query mentions, the group's
// other members, so 刷脸 also finds 人脸识别.
func (ix *faqIndex) expand(q string) [][]string {
	var out [][]string
	for _, g := range ix.synonyms {
		hit := false
		for _, w := range g {
			if strings.Contains(q, w) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		var add []string
		for _, w := range g {
			if !strings.Contains(q, w) {
				add = append(add, w)
			}
		}
		out = append(out, add)
	}
	return out
}

// scored is one entry's score.
type scored struct {
	doc   int
	score float64
}

// rank returns entry indexes with a positive score, best first.
func (ix *faqIndex) rank(q string) []scored {
	// The user's own words count fully; each synonym group mentioned adds
	// its other members with one word's weight in all, so a synonym helps
	// recall without outvoting what was typed, however large its group.
	terms := helpTokens(q)
	for _, group := range ix.expand(q) {
		for _, w := range group {
			for t, n := range helpTokens(w) {
				terms[t] += n / float64(len(group))
			}
		}
	}
	var out []scored
	for i, doc := range ix.docs {
		var s float64
		for t, qw := range terms {
			f := doc[t]
			if f == 0 {
				continue
			}
			norm := bm25K1 * (1 - bm25B + bm25B*ix.lens[i]/ix.avgLen)
			s += qw * ix.idf[t] * f * (bm25K1 + 1) / (f + norm)
		}
		if s > 0 {
			out = append(out, scored{i, s})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].score > out[b].score })
	return out
}

package service

// This file holds what a batch's posting carries: its quote lines and the
// family mutual-aid amount drawn with them.

// BatchPostingLines returns the lines a batch's posting carries, at their
// full amounts (the quote lines whose month is within [FromMonth, ToMonth];
// every line when the batch has no months), and the family mutual-aid
// amount the posting draws: the lines' sum minus what WeChat Pay collected.
// The protocol requires amount_fen + mutual_aid_fen = the sum of the lines.
func BatchPostingLines(q *Quote, b *Batch) ([]QuoteLine, Fen) {
	var out []QuoteLine
	var sum Fen
	for _, l := range q.Lines {
		if b.FromMonth != "" && b.ToMonth != "" && (l.Month < b.FromMonth || l.Month > b.ToMonth) {
			continue
		}
		if l.AmountFen > 0 {
			out = append(out, l)
			sum += l.AmountFen
		}
	}
	return out, sum - b.AmountFen
}

// BatchLines returns what a batch's WeChat payment covers: the quote lines
// whose month is within the batch's [FromMonth, ToMonth] (batches are split
// on month boundaries, see PlanBatches), with the family mutual-aid offset
// taken from the medical lines in quote order exactly as PlanBatches takes
// it, and lines left at zero dropped. The platform requires the lines to sum
// to the posted amount. A batch without months covers every line.
func BatchLines(q *Quote, b *Batch) []QuoteLine {
	aid := q.MutualAidFen
	var out []QuoteLine
	for _, l := range q.Lines {
		if l.Insurance == InsuranceMedical && aid > 0 {
			off := min(aid, l.AmountFen)
			l.AmountFen -= off
			aid -= off
		}
		if b.FromMonth != "" && b.ToMonth != "" && (l.Month < b.FromMonth || l.Month > b.ToMonth) {
			continue
		}
		if l.AmountFen > 0 {
			out = append(out, l)
		}
	}
	return out
}

package provsim

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// SetErrorRate makes that fraction (0..1) of API requests fail with a
// retryable 503. Draws come from the seeded RNG, so a run is repeatable.
func (s *Sim) SetErrorRate(rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errorRate = min(max(rate, 0), 1)
}

// SetLatency delays every API answer by d (real time).
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// AddDownWindow makes the platform answer 503 platform_down while the
// simulator's clock is in [from, to).
func (s *Sim) AddDownWindow(from, to time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = append(s.down, window{from, to})
}

// ClearDownWindows removes every down window.
func (s *Sim) ClearDownWindows() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = nil
}

// FailNextPostings makes the next n new postings fail with a retryable 503
// before anything is booked; later ones are handled normally.
func (s *Sim) FailNextPostings(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = max(n, 0)
}

// SetPostingMode sets how new postings are answered: ModeAccept,
// ModePending or ModeReject.
func (s *Sim) SetPostingMode(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch mode {
	case ModeAccept, ModePending, ModeReject:
		s.mode = mode
	}
}

// RejectPostings switches to ModeReject with the given code and reason
// (defaults: not_insured, 平台拒绝受理).
func (s *Sim) RejectPostings(code, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode, s.rejCode, s.rejReason = ModeReject, code, reason
}

// Faults is the fault state, as read and written by /sim/platform/faults.
type Faults struct {
	ErrorRate        *float64 `json:"error_rate,omitempty"`
	LatencyMS        *int64   `json:"latency_ms,omitempty"`
	FailNextPostings *int     `json:"fail_next_postings,omitempty"`
	PostingMode      *string  `json:"posting_mode,omitempty"`
	RejectCode       *string  `json:"reject_code,omitempty"`
	RejectReason     *string  `json:"reject_reason,omitempty"`
	// Dark: book postings but answer every posting request (post, query,
	// void) 503, as a platform that booked and went dark.
	Dark *bool `json:"dark,omitempty"`
	// Forbid: answer every API request 403 region_not_allowed.
	Forbid *bool `json:"forbid,omitempty"`
}

// SetDark makes the platform book postings and answer every posting
// request with a 503 (on), or answer normally again (off).
func (s *Sim) SetDark(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dark = on
}

// SetForbid makes every API request answer 403 region_not_allowed.
func (s *Sim) SetForbid(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbid = on
}

func (s *Sim) faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	er, lat, fn, m, rc, rr, dk, fb := s.errorRate, s.latency.Milliseconds(), s.failNext, s.mode, s.rejCode, s.rejReason, s.dark, s.forbid
	return Faults{&er, &lat, &fn, &m, &rc, &rr, &dk, &fb}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err == nil && len(b) > 0 {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": "invalid_request", "message": err.Error()}})
		return false
	}
	return true
}

// controlRoutes mounts the unauthenticated test controls.
func (s *Sim) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /sim/platform/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.faults())
	})
	mux.HandleFunc("POST /sim/platform/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !readJSON(w, r, &f) {
			return
		}
		if f.ErrorRate != nil {
			s.SetErrorRate(*f.ErrorRate)
		}
		if f.LatencyMS != nil {
			s.SetLatency(time.Duration(*f.LatencyMS) * time.Millisecond)
		}
		if f.FailNextPostings != nil {
			s.FailNextPostings(*f.FailNextPostings)
		}
		if f.PostingMode != nil {
			s.SetPostingMode(*f.PostingMode)
		}
		if f.Dark != nil {
			s.SetDark(*f.Dark)
		}
		if f.Forbid != nil {
			s.SetForbid(*f.Forbid)
		}
		if f.RejectCode != nil || f.RejectReason != nil {
			s.mu.Lock()
			if f.RejectCode != nil {
				s.rejCode = *f.RejectCode
			}
			if f.RejectReason != nil {
				s.rejReason = *f.RejectReason
			}
			s.mu.Unlock()
		}
		writeJSON(w, http.StatusOK, s.faults())
	})
	mux.HandleFunc("POST /sim/platform/down", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			From time.Time `json:"from"`
			To   time.Time `json:"to"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		s.AddDownWindow(in.From, in.To)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("DELETE /sim/platform/down", func(w http.ResponseWriter, r *http.Request) {
		s.ClearDownWindows()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /sim/platform/pending/complete", func(w http.ResponseWriter, r *http.Request) {
		in := struct {
			Accept *bool  `json:"accept"`
			Code   string `json:"code"`
			Reason string `json:"reason"`
		}{}
		if !readJSON(w, r, &in) {
			return
		}
		var n int
		var err error
		if in.Accept == nil || *in.Accept {
			n, err = s.CompletePending(r.Context())
		} else {
			n, err = s.RejectPending(r.Context(), in.Code, in.Reason)
		}
		out := map[string]any{"completed": n}
		if err != nil {
			out["delivery_error"] = err.Error()
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /sim/platform/callbacks/flush", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{"ok": true}
		if err := s.FlushCallbacks(r.Context()); err != nil {
			out["ok"], out["delivery_error"] = false, err.Error()
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /sim/platform/sms/{check_id}", func(w http.ResponseWriter, r *http.Request) {
		code := s.LastSMSCode(r.PathValue("check_id"))
		if code == "" {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": "not_found", "message": "no such sms check"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"code": code})
	})
	mux.HandleFunc("POST /sim/platform/identity-checks/{check_id}/complete", func(w http.ResponseWriter, r *http.Request) {
		in := struct {
			Passed bool `json:"passed"`
		}{}
		if !readJSON(w, r, &in) {
			return
		}
		if err := s.CompleteIdentityCheck(r.Context(), r.PathValue("check_id"), in.Passed); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": "not_found", "message": err.Error()}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /sim/platform/events", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Events())
	})
	mux.HandleFunc("GET /sim/platform/bookings", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Bookings())
	})
	mux.HandleFunc("GET /sim/platform/attempts/{key}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"attempts": s.Attempts(r.PathValue("key"))})
	})
	mux.HandleFunc("POST /sim/platform/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

package service_test

import (
	"testing"
	"time"

	"github.com/shebao/sipay/service"
)

// Every credit move follows the state machine: a refused move returns
// invalid_transition and leaves the order as it was.
func TestCreditTransitionsFollowTheStateMachine(t *testing.T) {
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		from service.CreditState
		move func(*service.CreditOrder) error
		want service.CreditState // "" = refused
	}{
		{"CreatedConfirmed", service.CreditCreated, func(c *service.CreditOrder) error { return c.Confirm("SO1", at, at.Add(time.Hour)) }, service.CreditConfirmed},
		{"CreatedCancelled", service.CreditCreated, func(c *service.CreditOrder) error { return c.Cancel("why") }, service.CreditCancelled},
		{"ConfirmedPosted", service.CreditConfirmed, func(c *service.CreditOrder) error { return c.MarkPosted(at) }, service.CreditPosted},
		{"PostedCollectionDue", service.CreditPosted, func(c *service.CreditOrder) error { return c.Complete(at) }, service.CreditCollectionDue},
		{"DueCollected", service.CreditCollectionDue, func(c *service.CreditOrder) error { return c.MarkCollected("T1", at) }, service.CreditCollected},
		{"DueFailed", service.CreditCollectionDue, func(c *service.CreditOrder) error { return c.MarkCollectionFailed(at) }, service.CreditCollectionFailed},
		{"FailedCollected", service.CreditCollectionFailed, func(c *service.CreditOrder) error { return c.MarkCollected("T1", at) }, service.CreditCollected},
		{"PostedCancelRefused", service.CreditPosted, func(c *service.CreditOrder) error { return c.Cancel("why") }, ""},
		{"CollectedCompleteRefused", service.CreditCollected, func(c *service.CreditOrder) error { return c.Complete(at) }, ""},
		{"ConfirmRepeatRefused", service.CreditConfirmed, func(c *service.CreditOrder) error { return c.Confirm("SO1", at, at) }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := &service.CreditOrder{OutOrderNo: "CP1", State: c.from}
			err := c.move(o)
			if c.want == "" {
				if got := service.ErrorCode(err); got != service.CodeInvalidTransition {
					t.Fatalf("code=%q (%v), want %q", got, err, service.CodeInvalidTransition)
				}
				if o.State != c.from {
					t.Fatalf("state=%s after a refused move, want %s", o.State, c.from)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.State != c.want {
				t.Fatalf("state=%s, want %s", o.State, c.want)
			}
		})
	}
}

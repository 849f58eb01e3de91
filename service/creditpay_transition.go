package service

import (
	"slices"
	"time"
)

// creditTransitions is the one table of allowed credit transitions.
var creditTransitions = map[CreditState][]CreditState{
	CreditCreated:          {CreditConfirmed, CreditCancelled},
	CreditConfirmed:        {CreditPosted, CreditCancelled, CreditCollectionDue},
	CreditPosted:           {CreditCollectionDue, CreditCollected},
	CreditCollectionDue:    {CreditCollected, CreditCollectionFailed},
	CreditCollectionFailed: {CreditCollected},
}

// CanCreditTransition reports whether a credit order may move between states.
func CanCreditTransition(from, to CreditState) bool {
	return slices.Contains(creditTransitions[from], to)
}

// The transitions of a credit order. Like Batch's and Refund's, each
// enforces creditTransitions and returns a KindConflict invalid_transition
// error without changing the order when the move is not allowed. Use cases
// call them inside a CreditStore.UpdateCredit closure and decide there what
// a repeat means (ErrNoChange); the store persists the result after Settle.

func invalidCreditTransition(from, to CreditState) *Error {
	return Errorf(KindConflict, CodeInvalidTransition, "信用付状态不允许从 %s 变为 %s", from, to)
}

func (c *CreditOrder) moveTo(to CreditState) error {
	if !CanCreditTransition(c.State, to) {
		return invalidCreditTransition(c.State, to)
	}
	c.State = to
	return nil
}

// Confirm records the user's confirmation at at: the collection is due at
// dueAt, and orderID, when WeChat named it, is the service order's id.
func (c *CreditOrder) Confirm(orderID string, at, dueAt time.Time) error {
	if err := c.moveTo(CreditConfirmed); err != nil {
		return err
	}
	c.ConfirmedAt, c.DueAt = at, dueAt
	if orderID != "" {
		c.ServiceOrderID = orderID
	}
	return nil
}

// moveAt moves c to state to and stamps *stamp with at.
func (c *CreditOrder) moveAt(to CreditState, stamp *time.Time, at time.Time) error {
	if err := c.moveTo(to); err != nil {
		return err
	}
	*stamp = at
	return nil
}

// MarkPosted records that the platform booked the batch paid on credit.
func (c *CreditOrder) MarkPosted(at time.Time) error { return c.moveAt(CreditPosted, &c.PostedAt, at) }

// Complete records that the service order was completed with the posted
// amount at at: WeChat now collects it.
func (c *CreditOrder) Complete(at time.Time) error {
	return c.moveAt(CreditCollectionDue, &c.CompletedAt, at)
}

// MarkCollected records WeChat's collection, transaction transactionID at
// at. An order whose completion answer was lost is completed at at too.
func (c *CreditOrder) MarkCollected(transactionID string, at time.Time) error {
	if err := c.moveTo(CreditCollected); err != nil {
		return err
	}
	if c.CompletedAt.IsZero() {
		c.CompletedAt = at.UTC()
	}
	c.CollectedAt, c.TransactionID = at.UTC(), transactionID
	return nil
}

// MarkCollectionFailed records that WeChat had not collected within
// CollectionGrace at at.
func (c *CreditOrder) MarkCollectionFailed(at time.Time) error {
	return c.moveAt(CreditCollectionFailed, &c.FailedAt, at)
}

// Cancel records a service order cancelled before posting, for why.
func (c *CreditOrder) Cancel(why string) error {
	if err := c.moveTo(CreditCancelled); err != nil {
		return err
	}
	c.CancelReason = why
	return nil
}

// creditStep is the UpdateCredit closure of one transition: an order in
// state from takes move and gets the timeline event typ with detail(c); an
// order in any other state is left as it is (ErrNoChange).
func creditStep(from CreditState, move func(*CreditOrder) error, typ string, detail func(*CreditOrder) string) func(*CreditOrder, *Effects) error {
	return func(c *CreditOrder, fx *Effects) error {
		if c.State != from {
			return ErrNoChange
		}
		if err := move(c); err != nil {
			return err
		}
		fx.Event(1, typ, detail(c))
		return nil
	}
}

// Settle checks a change an UpdateCredit closure made to c, whose state was
// from before, against the state machine (a closure that assigned a state
// instead of calling a transition is caught here). The store calls it
// before writing; an error means nothing is written.
func (c *CreditOrder) Settle(from CreditState) error {
	if c.State != from && !CanCreditTransition(from, c.State) {
		return invalidCreditTransition(from, c.State)
	}
	return nil
}

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

// MarkPosted records that the platform booked the batch paid on credit.
func (c *CreditOrder) MarkPosted(at time.Time) error {
	if err := c.moveTo(CreditPosted); err != nil {
		return err
	}
	c.PostedAt = at
	return nil
}

// Complete records that the service order was completed with the posted
// amount at at: WeChat now collects it.
func (c *CreditOrder) Complete(at time.Time) error {
	if err := c.moveTo(CreditCollectionDue); err != nil {
		return err
	}
	c.CompletedAt = at
	return nil
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
	if err := c.moveTo(CreditCollectionFailed); err != nil {
		return err
	}
	c.FailedAt = at
	return nil
}

// Cancel records a service order cancelled before posting, for why.
func (c *CreditOrder) Cancel(why string) error {
	if err := c.moveTo(CreditCancelled); err != nil {
		return err
	}
	c.CancelReason = why
	return nil
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

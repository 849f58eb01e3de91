// Package service holds the domain of the social-insurance payment backend:
// users, identities, regions and quotes, orders and their batches, posting to
// provincial platforms, refunds, holds, vouchers and reconciliation.
//
// It imports no web framework, ORM, Redis client or WeChat SDK. Adapters in
// model/, cache/, wxpay/, wechat/ and platform/ implement the interfaces
// declared here, each beside the use case that consumes it; app/ wires them
// together and cmd/server runs it.
//
// Where things are, by file:
//
//   - Shared: service.go (this map), error.go (Error, kinds, codes,
//     ErrorText), clock.go (Clock), calendar.go (the China zone, Month, Day,
//     working days), money.go (Fen), metrics.go, locker.go (Locker).
//   - Users and identity: auth.go (login, sessions), user.go, person.go,
//     idcard.go (ID documents and the MOD 11-2 check), identity.go (face
//     verification, FaceStatus), identity_alt.go (alternative checks,
//     CheckStatus), family.go (family bindings and consent, IdentityService).
//   - Regions and quotes: region.go (region rules), quote.go (Quote),
//     quote_service.go (pricing, QuoteDeps), insured.go (a person's
//     standing), pension.go (pension estimate), platform.go and
//     platform_event.go (the provincial platform's interface and callbacks).
//   - Orders and payment: order.go (Order, Batch, OrderStatus and the batch
//     transition methods), order_store.go (OrderStore, Effects, alerts and
//     outbox jobs), order_service.go (OrderDeps, create, resume, pay a
//     batch), order_payment.go (a payment applied: notification or query),
//     order_cancel.go (cancel, close, AlertPaymentState),
//     order_idempotency.go, payment.go (PaymentGateway, Trade, TradeState,
//     RefundStatus: WeChat Pay as the service needs it), payment_poller.go
//     (PollerDeps: missed notifications and expiry).
//   - Notifications: notify.go (NotifyService.Receive: a WeChat Pay
//     notification is verified, then handed to OrderService.HandleTransaction
//     in order_payment.go or RefundService.HandleRefundEvent in refund.go).
//   - After payment: hold.go (risk holds, HoldAction), posting.go (the
//     posting job and PostingRecord transitions), posting_schedule.go,
//     posting_lines.go, posting_callback.go (platform callbacks),
//     posting_delay.go, posting_resolve.go (operations' resolution),
//     refund.go (RefundService), refund_transition.go (the Refund state
//     machine), voucher.go, recon.go (reconciliation), batch_view.go (what a
//     user sees after payment).
//   - Operations: admin.go (audited admin actions), console.go (the ops
//     console), alert_mask.go.
//
// State changes are methods of the domain types (Batch, Refund,
// FamilyBinding, PostingRecord); stores persist them inside an update
// closure and do not decide. Services with more than four dependencies take
// a Deps struct, a service that logs takes a required logger, and every
// constructor panics on a missing required dependency.
package service

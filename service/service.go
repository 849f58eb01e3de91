// Package service holds the domain of the social-insurance payment backend:
// users, identities, regions and quotes, orders and their batches, posting to
// provincial platforms, refunds, holds, vouchers and reconciliation.
//
// It imports no web framework, ORM, Redis client or WeChat SDK. Adapters in
// model/, cache/, wxpay/, wechat/ and platform/ implement the interfaces
// declared here; app/ wires them together and cmd/server runs it.
//
// Each use case has its files: order_*.go (ordering, payment, cancel),
// posting*.go (posting to the provincial platform: the job, its schedule,
// lines, callbacks, delay flags and operations' resolution), refund.go,
// hold.go, voucher.go, recon.go, admin.go and console.go (operations).
// Batch transitions are methods of Batch (order.go); stores persist them.
package service

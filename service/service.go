// Package service holds the domain of the social-insurance payment backend:
// users, identities, regions and quotes, orders and their batches, posting to
// provincial platforms, refunds, holds, vouchers and reconciliation.
//
// It imports no web framework, ORM, Redis client or WeChat SDK. Adapters in
// model/, cache/, wxpay/, wechat/ and platform/ implement the interfaces
// declared here, and cmd/server wires them together.
package service

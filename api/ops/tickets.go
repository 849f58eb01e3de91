package ops

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/service"
)

// The customer-service desk and the credit-pay list. Tickets go through
// service.TicketService's audited admin methods (the JSON admin API's);
// the SLA (time left or overdue) comes from the service's clock, never
// from the template.

// kindLabels name the values whose words depend on what they belong to: a
// resolved ticket is solved (已解决) where a resolved alert is closed, a
// posted credit order still waits for its collection.
var kindLabels = map[string]map[string]string{
	"ticket": {
		"open": "待处理", "answered": "已回复", "resolved": "已解决", "closed": "已关闭",
		"identity": "身份验证", "payment": "支付异常", "delay": "信息延迟", "refund": "退款", "hold": "资金冻结",
		"confirming": "结果待确认", "voucher": "凭证", "lapse": "断缴提醒", "family": "亲属代缴", "other": "其他",
		"faq": "来自帮助", "order": "来自订单", "auto": "系统自动",
		"user": "用户", "ops": "运营", "system": "系统",
	},
	"credit": {
		"created": "待用户确认", "confirmed": "已确认，入账中", "posted": "已入账，待扣款", "collection_due": "扣款中",
		"collected": "已扣款", "collection_failed": "扣款未成功", "cancelled": "已取消",
	},
}

// labelOf names v as a value of kind ("ticket", "credit"), falling back to
// label.
func labelOf(kind string, v any) string {
	if l, ok := kindLabels[kind][fmt.Sprint(v)]; ok {
		return l
	}
	return label(v)
}

// creditStates are the credit list's filter, in the order of the flow.
var creditStates = []service.CreditState{service.CreditCreated, service.CreditConfirmed, service.CreditPosted,
	service.CreditCollectionDue, service.CreditCollected, service.CreditCollectionFailed, service.CreditCancelled}

func (c *Console) tickets(ctx *gin.Context) {
	ts, err := c.d.Tickets.Queue(ctx.Request.Context(), actor(ctx))
	c.show(ctx, err, "tickets", &page{Title: "客服工单", Nav: "tickets", Data: ts})
}

// ticket shows one ticket, audited as view_ticket like the admin API's GET.
func (c *Console) ticket(ctx *gin.Context) {
	t, err := c.d.Tickets.AdminTicket(ctx.Request.Context(), actor(ctx), ctx.Param("ticket_no"))
	if err != nil {
		c.failErr(ctx, err)
		return
	}
	c.render(ctx, http.StatusOK, "ticket", &page{Title: "工单 " + t.No, Nav: "tickets", Data: c.d.Tickets.DueState(t)})
}

func ticketPath(no string) string { return "/ops/tickets/" + url.PathEscape(no) }

func (c *Console) replyTicket(ctx *gin.Context) {
	no := ctx.Param("ticket_no")
	_, err := c.d.Tickets.Reply(ctx.Request.Context(), actor(ctx), no, ctx.PostForm("body"))
	c.done(ctx, err, ticketPath(no), "replied")
}

// setTicketStatus resolves, closes or reopens; the service checks the
// status and the transition.
func (c *Console) setTicketStatus(ctx *gin.Context) {
	no, status := ctx.Param("ticket_no"), ctx.PostForm("status")
	_, err := c.d.Tickets.AdminSetStatus(ctx.Request.Context(), actor(ctx), no, status, ctx.PostForm("note"))
	c.done(ctx, err, ticketPath(no), "ticket_"+status)
}

func (c *Console) creditOrders(ctx *gin.Context) {
	state := ctx.Query("state")
	cs, err := c.d.Ops.CreditOrders(ctx.Request.Context(), actor(ctx), service.CreditState(state))
	c.show(ctx, err, "credit", &page{Title: "信用付订单", Nav: "credit",
		Data: map[string]any{"Orders": cs, "State": state, "States": creditStates}})
}

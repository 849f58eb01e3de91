package ops

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shebao/sipay/api"
	"github.com/shebao/sipay/service"
)

// page is what every template gets.
type page struct {
	Title    string
	Nav      string // the current section, for aria-current
	Operator string
	CSRF     string
	Flash    string
	Error    string
	Now      time.Time
	Data     any
}

// flashes are the only messages a redirect may carry (?msg=code): a fixed
// table, so nothing from the URL is ever echoed into the page.
var flashes = map[string]string{
	"released":        "已放行，订单将继续入账。",
	"rejected":        "已拒绝，款项将原路退回。",
	"retried":         "已重新发起退款。",
	"acked":           "告警已确认。",
	"resolved":        "告警已关闭。",
	"confirmed":       "已记录平台确认结果。",
	"signed_out":      "已退出登录。",
	"replied":         "已回复，用户将收到通知。",
	"ticket_resolved": "工单已标记为已解决。",
	"ticket_closed":   "工单已关闭。",
	"ticket_open":     "工单已重新打开。",
}

func randomString() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (c *Console) render(ctx *gin.Context, status int, name string, p *page) {
	t, ok := c.pages[name]
	if !ok {
		panic("ops: no template " + name)
	}
	if s := sessionOf(ctx); s != nil && p.Operator == "" {
		p.Operator, p.CSRF = s.Operator, s.CSRF
	}
	if p.Flash == "" {
		p.Flash = flashes[ctx.Query("msg")]
	}
	p.Now = c.d.Clock.Now()
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		c.d.Log.Error("ops render", "page", name, "err", err)
		ctx.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("服务器内部错误"))
		return
	}
	ctx.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// done answers an action: the error page when err is set, else a redirect
// to a page (POST, then redirect, then GET) that flashes msg.
func (c *Console) done(ctx *gin.Context, err error, path, msg string) {
	if err != nil {
		c.failErr(ctx, err)
		return
	}
	ctx.Redirect(http.StatusSeeOther, path+"?msg="+url.QueryEscape(msg))
}

// show renders the page name with p, or the error page when err is set.
func (c *Console) show(ctx *gin.Context, err error, name string, p *page) {
	if err != nil {
		c.failErr(ctx, err)
		return
	}
	c.render(ctx, http.StatusOK, name, p)
}

func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"yuan": func(f service.Fen) string { return formatFen(int64(f)) },
		"fen":  formatFen,
		"ts": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(service.Shanghai).Format("2006-01-02 15:04:05")
		},
		"age": func(t time.Time) string { return humanAge(c.d.Clock.Now().Sub(t)) },
		"left": func(t time.Time) string {
			d := t.Sub(c.d.Clock.Now())
			if d <= 0 {
				return "已到期"
			}
			return humanAge(d)
		},
		"label":   label,
		"labelOf": labelOf,
		"dur":     humanAge,
		"rate":    rateText,
		"join":    strings.Join,
		"add":     func(a, b int) int { return a + b },
		"sub":     func(a, b int) int { return a - b },
		"chart":   chartToday,
		"week":    chartWeek,
		"rates":   chartRates,
		"orderOf": orderOf,
		"reconOf": reconOf,
	}
}

// formatFen writes fen as yuan with two decimals, integers only.
func formatFen(f int64) string {
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	return fmt.Sprintf("%s¥%d.%02d", sign, f/100, f%100)
}

func humanAge(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return "不到1分钟"
	case d < time.Hour:
		return fmt.Sprintf("%d分钟", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d小时%d分", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%d天%d小时", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

func rateText(bp int) string {
	if bp < 0 {
		return "无数据"
	}
	return fmt.Sprintf("%d.%02d%%", bp/100, bp%100)
}

// labels are the Chinese names of states and kinds; unknown values show as
// they are.
var labels = map[string]string{
	"open": "待处理", "released": "已放行", "rejected": "已拒绝", "acked": "已确认", "resolved": "已关闭",
	"pending_payment": "待支付", "partially_paid": "部分支付", "paid": "已支付", "held": "风控冻结", "posting": "入账中",
	"posted": "已入账", "refunding": "退款中", "refunded": "已退款", "closed": "已关闭",
	"pending": "待处理", "processing": "处理中", "success": "成功", "abnormal": "异常",
	"accepted": "已受理", "confirming": "待确认", "": "未应答",
	"release": "到期放行", "refund": "到期退款",
	"notify_mismatch": "通知与订单不符", "unknown_trade": "未知交易", "paid_after_close": "关单后支付",
	"refund_abnormal": "退款异常", "refund_failed": "退款失败", "refund_closed": "退款关闭",
	"unknown_refund": "未知退款", "posted_after_refund": "退款后入账", "unknown_posting": "未知入账回调",
	"posting_delayed": "入账延迟", "recon_mismatch": "对账差异", "ticket_sla_breached": "工单首次响应超时",
	"missing_local": "微信有、本地无", "missing_remote": "本地有、微信无", "amount_diff": "金额不符", "status_diff": "状态不符",
}

// label names a code or status for the page; statuses are the service's
// typed enums (service.HoldStatus, service.AlertStatus, …), hence any.
func label(v any) string {
	s := fmt.Sprint(v)
	if l, ok := labels[s]; ok {
		return l
	}
	return s
}

// orderOf derives an order number from an out_trade_no (order_no + "_" +
// seq, see service.OutTradeNo) for links; "" when it does not parse.
func orderOf(outTradeNo string) string {
	if i := strings.LastIndex(outTradeNo, "_"); i > 0 {
		if _, err := strconv.Atoi(outTradeNo[i+1:]); err == nil {
			return outTradeNo[:i]
		}
	}
	return ""
}

// reconOf returns the day of a reconciliation alert's ref ("recon:<day>"),
// or "".
func reconOf(ref string) string {
	if d, ok := strings.CutPrefix(ref, "recon:"); ok {
		return d
	}
	return ""
}

func (c *Console) dashboard(ctx *gin.Context) {
	d, err := c.d.Ops.Dashboard(ctx.Request.Context(), actor(ctx))
	c.show(ctx, err, "dashboard", &page{Title: "概览", Nav: "dashboard", Data: d})
}

func (c *Console) holds(ctx *gin.Context) {
	status := ctx.DefaultQuery("status", string(service.HoldOpen))
	hs, err := c.d.Admin.Holds(ctx.Request.Context(), actor(ctx), service.HoldStatus(status))
	c.show(ctx, err, "holds", &page{Title: "风控冻结", Nav: "holds", Data: map[string]any{"Holds": hs, "Status": status}})
}

func (c *Console) releaseHold(ctx *gin.Context) {
	_, err := c.d.Admin.ReleaseHold(ctx.Request.Context(), actor(ctx), ctx.Param("out_trade_no"))
	c.done(ctx, err, "/ops/holds", "released")
}

func (c *Console) rejectHold(ctx *gin.Context) {
	note := strings.TrimSpace(ctx.PostForm("note"))
	if note == "" || len([]rune(note)) > 200 {
		c.fail(ctx, http.StatusBadRequest, "拒绝时请填写备注（最多200字）")
		return
	}
	_, err := c.d.Admin.RejectHold(ctx.Request.Context(), actor(ctx), ctx.Param("out_trade_no"), note)
	c.done(ctx, err, "/ops/holds", "rejected")
}

func (c *Console) unknown(ctx *gin.Context) {
	us, err := c.d.Ops.UnknownOutcomes(ctx.Request.Context(), actor(ctx))
	c.show(ctx, err, "unknown", &page{Title: "结果未知的入账", Nav: "unknown",
		Data: map[string]any{"Items": us, "CanResolve": c.d.Ops.CanResolveUnknown()}})
}

func (c *Console) resolveUnknown(ctx *gin.Context) {
	outcome := ctx.PostForm("outcome")
	if outcome != "posted" && outcome != "refund" {
		c.fail(ctx, http.StatusBadRequest, "请选择平台确认的结果")
		return
	}
	ref, note := strings.TrimSpace(ctx.PostForm("reference")), strings.TrimSpace(ctx.PostForm("note"))
	if (outcome == "posted" && ref == "") || len(ref) > 64 || len([]rune(note)) > 200 {
		c.fail(ctx, http.StatusBadRequest, "已入账须填写平台受理编号（最多64字符），备注最多200字")
		return
	}
	err := c.d.Ops.ResolveUnknown(ctx.Request.Context(), actor(ctx), ctx.Param("out_trade_no"), outcome, ref, note)
	c.done(ctx, err, "/ops/unknown", "confirmed")
}

func (c *Console) refunds(ctx *gin.Context) {
	status := service.RefundState(ctx.DefaultQuery("status", string(service.RefundStateClosed)))
	if status == "all" {
		status = ""
	}
	rs, err := c.d.Ops.Refunds(ctx.Request.Context(), actor(ctx), status)
	c.show(ctx, err, "refunds", &page{Title: "退款", Nav: "refunds", Data: map[string]any{"Refunds": rs, "Status": string(status)}})
}

func (c *Console) retryRefund(ctx *gin.Context) {
	_, err := c.d.Admin.RetryRefund(ctx.Request.Context(), actor(ctx), ctx.Param("out_refund_no"))
	c.done(ctx, err, "/ops/refunds", "retried")
}

func (c *Console) alerts(ctx *gin.Context) {
	status := ctx.DefaultQuery("status", string(service.AlertOpen))
	if status == "all" {
		status = ""
	}
	as, err := c.d.Ops.Alerts(ctx.Request.Context(), actor(ctx), service.AlertStatus(status))
	c.show(ctx, err, "alerts", &page{Title: "告警", Nav: "alerts", Data: map[string]any{"Alerts": as, "Status": status}})
}

func (c *Console) decideAlert(ctx *gin.Context, ack bool) {
	id, err := strconv.ParseInt(ctx.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		c.fail(ctx, http.StatusNotFound, "告警不存在")
		return
	}
	decide, msg := c.d.Ops.ResolveAlert, "resolved"
	if ack {
		decide, msg = c.d.Ops.AckAlert, "acked"
	}
	_, err = decide(ctx.Request.Context(), actor(ctx), id, ctx.PostForm("note"))
	c.done(ctx, err, "/ops/alerts", msg)
}

func (c *Console) ackAlert(ctx *gin.Context)     { c.decideAlert(ctx, true) }
func (c *Console) resolveAlert(ctx *gin.Context) { c.decideAlert(ctx, false) }

func (c *Console) recon(ctx *gin.Context) {
	day := ctx.Query("date")
	if day == "" {
		day = c.d.Clock.Now().In(service.Shanghai).AddDate(0, 0, -1).Format("2006-01-02")
	}
	r, err := c.d.Admin.Recon(ctx.Request.Context(), actor(ctx), day)
	c.show(ctx, err, "recon", &page{Title: "对账", Nav: "recon", Data: map[string]any{"Report": r, "Day": day}})
}

func (c *Console) orders(ctx *gin.Context) {
	q := strings.TrimSpace(ctx.Query("q"))
	if q == "" {
		c.render(ctx, http.StatusOK, "orders", &page{Title: "订单查询", Nav: "orders"})
		return
	}
	o, err := c.d.Ops.FindOrder(ctx.Request.Context(), actor(ctx), q)
	if err != nil {
		status, msg := api.ErrorStatus(err)
		c.render(ctx, status, "orders", &page{Title: "订单查询", Nav: "orders", Error: msg, Data: map[string]any{"Q": q}})
		return
	}
	ctx.Redirect(http.StatusSeeOther, "/ops/orders/"+url.PathEscape(o.Order.No))
}

func (c *Console) order(ctx *gin.Context) { c.showOrder(ctx, false) }

func (c *Console) revealOrder(ctx *gin.Context) { c.showOrder(ctx, true) }

func (c *Console) showOrder(ctx *gin.Context, reveal bool) {
	no := ctx.Param("order_no")
	o, err := c.d.Ops.FindOrder(ctx.Request.Context(), actor(ctx), no)
	if err == nil && o.Order.No != no {
		err = service.NotFound("订单不存在") // order pages are addressed by order_no only
	}
	if err != nil {
		c.failErr(ctx, err)
		return
	}
	p, err := c.d.Ops.Person(ctx.Request.Context(), actor(ctx), o.Order.No, o.Order.PersonID, reveal)
	if err != nil {
		c.failErr(ctx, err)
		return
	}
	c.render(ctx, http.StatusOK, "order", &page{Title: "订单 " + o.Order.No, Nav: "orders",
		Data: map[string]any{"O": o, "Person": p, "Revealed": reveal}})
}

func (c *Console) audit(ctx *gin.Context) {
	q := strings.TrimSpace(ctx.Query("q"))
	pg, _ := strconv.Atoi(ctx.DefaultQuery("page", "1"))
	if pg < 1 || pg > 100000 {
		pg = 1
	}
	const per = 25
	es, total, err := c.d.Ops.AuditLog(ctx.Request.Context(), actor(ctx), service.AuditFilter{Query: q, Offset: (pg - 1) * per, Limit: per})
	if err != nil {
		c.failErr(ctx, err)
		return
	}
	pages := (total + per - 1) / per
	link := func(n int) string {
		v := url.Values{"page": {strconv.Itoa(n)}}
		if q != "" {
			v.Set("q", q)
		}
		return "/ops/audit?" + v.Encode()
	}
	data := map[string]any{"Entries": es, "Q": q, "Page": pg, "Pages": pages, "Total": total}
	if pg > 1 {
		data["Prev"] = link(pg - 1)
	}
	if pg < pages {
		data["Next"] = link(pg + 1)
	}
	c.render(ctx, http.StatusOK, "audit", &page{Title: "审计日志", Nav: "audit", Data: data})
}

package service

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The smart FAQ (智能客服): a knowledge base as data (faq/data/faq.yaml),
// ranked by help_rank.go, and contextual help that explains one order's
// state in plain words with the next action.

// FAQEntry is one answer of the knowledge base.
type FAQEntry struct {
	ID       string
	Category string
	Question string
	Answer   string
	// Plain is the short variant returned in care mode (关怀模式).
	Plain    string
	Keywords []string
}

// FAQ is the knowledge base: its entries and synonym groups.
type FAQ struct {
	Entries  []FAQEntry
	Synonyms [][]string
}

// Validate checks ids are unique and every entry has a question and both
// answers.
func (f FAQ) Validate() error {
	seen := map[string]bool{}
	for i, e := range f.Entries {
		switch {
		case e.ID == "":
			return fmt.Errorf("faq: entry %d: id is empty", i)
		case seen[e.ID]:
			return fmt.Errorf("faq: entry %s: duplicate id", e.ID)
		case strings.TrimSpace(e.Question) == "" || strings.TrimSpace(e.Answer) == "" || strings.TrimSpace(e.Plain) == "":
			return fmt.Errorf("faq: entry %s: question, answer and plain are required", e.ID)
		case utf8.RuneCountInString(e.Plain) > 40:
			return fmt.Errorf("faq: entry %s: plain is %d characters; care mode wants 40 at most", e.ID, utf8.RuneCountInString(e.Plain))
		}
		seen[e.ID] = true
	}
	return nil
}

// FAQHit is a ranked answer. Answer is the plain variant in care mode.
type FAQHit struct {
	ID       string
	Category string
	Question string
	Answer   string
	Score    float64
}

// HelpOrders reads orders and their timelines (OrderStore implements it).
type HelpOrders interface {
	FindOrder(ctx context.Context, orderNo string) (*Order, error)
	OrderEvents(ctx context.Context, orderNo string) ([]OrderEvent, error)
}

// HelpService answers FAQ searches and explains orders.
type HelpService struct {
	faq    FAQ
	byID   map[string]FAQEntry
	index  *faqIndex
	orders HelpOrders
}

// NewHelpService builds the index. It panics on a missing dependency or an
// invalid knowledge base (the data is embedded and tested).
func NewHelpService(faq FAQ, orders HelpOrders) *HelpService {
	if orders == nil || len(faq.Entries) == 0 {
		panic("service: NewHelpService: missing dependency")
	}
	if err := faq.Validate(); err != nil {
		panic(err)
	}
	s := &HelpService{faq: faq, byID: map[string]FAQEntry{}, index: newFAQIndex(faq.Entries, faq.Synonyms), orders: orders}
	for _, e := range faq.Entries {
		s.byID[e.ID] = e
	}
	return s
}

// MaxHelpQuery bounds a search query, in characters.
const MaxHelpQuery = 100

// Search ranks the answers for q, best first, at most limit.
//
// Errors: help_query_invalid (400) for an empty or too long query.
func (s *HelpService) Search(q string, limit int, care bool) ([]FAQHit, error) {
	q = strings.TrimSpace(q)
	if q == "" || utf8.RuneCountInString(q) > MaxHelpQuery {
		return nil, Invalid("help_query_invalid", fmt.Sprintf("请输入1到%d个字的问题", MaxHelpQuery),
			FieldError{Field: "q", Code: "length", Message: fmt.Sprintf("1到%d个字", MaxHelpQuery)})
	}
	if limit <= 0 || limit > 10 {
		limit = 5
	}
	var out []FAQHit
	for _, r := range s.index.rank(q) {
		if len(out) == limit {
			break
		}
		out = append(out, s.hit(s.faq.Entries[r.doc], r.score, care))
	}
	return out, nil
}

func (s *HelpService) hit(e FAQEntry, score float64, care bool) FAQHit {
	h := FAQHit{ID: e.ID, Category: e.Category, Question: e.Question, Answer: strings.TrimSpace(e.Answer), Score: score}
	if care {
		h.Answer = e.Plain
	}
	return h
}

// Entry returns one answer by id.
func (s *HelpService) Entry(id string, care bool) (FAQHit, bool) {
	e, ok := s.byID[id]
	if !ok {
		return FAQHit{}, false
	}
	return s.hit(e, 0, care), true
}

// OrderHelp explains an order's current state.
type OrderHelp struct {
	OrderNo     string
	Status      OrderStatus
	Delayed     bool // the platform has not confirmed within 3 working days
	Title       string
	Explanation string
	NextAction  string
	// Related are the FAQ answers for this state.
	Related []FAQHit
}

// orderStateHelp is what to say per state: title, explanation, next
// action, the plain (care mode) text and the related FAQ entries.
type orderStateHelp struct {
	title, explain, next, plain string
	related                     []string
}

var orderHelpText = map[OrderStatus]orderStateHelp{
	StatusPendingPayment: {"待支付", "订单已创建，还没有收到微信支付的付款确认。", "30分钟内可以继续支付；超时后订单会在确认未收款后关闭。",
		"还没付款。30分钟内可以接着付。", []string{"pending_payment", "card_limit"}},
	StatusPartiallyPaid: {"部分已支付", "金额较大，订单分成了几笔；已付的几笔正在入账，还有几笔待支付。", "请继续支付剩下的几笔。",
		"还有几笔没付，请接着付。", []string{"card_limit", "pending_payment"}},
	StatusPaid: {"已支付", "微信支付已确认收款，正在提交到当地社保经办机构。", "无需操作，入账后会通知您。",
		"钱已付，正在交给社保局，不用操作。", []string{"posted_voucher"}},
	StatusHeld: {"资金冻结核实中", "为保护资金安全，这笔缴费暂缓入账，最长24小时，由工作人员核实。", "无需重新支付；核实通过后自动入账，未通过则原路全额退回。",
		"为了安全先核实，最长24小时，不用重新交。", []string{"hold"}},
	StatusPosting: {"入账中", "款项已提交到当地社保经办机构，正在等待确认；失败会自动重试，最长72小时。", "无需操作；72小时内仍未成功会原路全额退回。",
		"正在入账，不用操作。", []string{"refund_why", "info_delay"}},
	StatusPosted: {"已入账", "社保经办机构已确认入账，缴费凭证已生成。", "可以在订单里查看电子票据和受理回执。",
		"已经交上了，可以看票据。", []string{"posted_voucher"}},
	StatusConfirming: {"结果待确认", "重试期已结束，社保经办机构还没有答复是否已入账；资金保留不动，系统正在核实。", "请不要重复缴费；确认未入账会原路退回，已入账会生成凭证。我们已自动创建工单跟进。",
		"正在核实结果，钱不会丢，请不要重复交。", []string{"confirming"}},
	StatusRefunding: {"退款中", "这笔缴费未能入账，资金正在原路退回。", "零钱通常立即到账，银行卡一般1到3个工作日。",
		"正在退钱，零钱马上到，银行卡1到3天。", []string{"refund_arrival", "refund_why"}},
	StatusRefunded: {"已退款", "资金已原路全额退回。", "如需继续缴费，请重新报价下单。",
		"钱已退回。要交的话请重新下单。", []string{"refund_arrival", "refund_why"}},
	StatusPartiallyRefunded: {"部分已退款", "订单分成了几笔：部分已入账，部分已原路退回。", "已入账的部分可查看凭证；退回的月份可以重新报价缴费。",
		"一部分交上了，一部分退回了。", []string{"refund_why", "posted_voucher"}},
	StatusClosed: {"已关闭", "订单超时未支付，已在确认微信未收款后关闭，没有扣款。", "如需缴费，请重新报价下单。",
		"订单关了，没扣钱。要交请重新下单。", []string{"pending_payment"}},
}

// delayedHelp overrides the posting text once the platform has not
// confirmed within 3 working days.
var delayedHelp = orderStateHelp{"信息延迟", "缴费已提交到社保经办机构，但3个工作日内还没有确认入账。", "请拨打12333人工核验，提供订单号、商户单号、交易单号和受理号（见订单时间线）。我们已自动创建工单跟进。",
	"3个工作日还没到账，请打12333。我们也在跟进。", []string{"info_delay"}}

// ForOrder explains the user's order. Another user's order is not found.
//
// Errors: not_found (404).
func (s *HelpService) ForOrder(ctx context.Context, userID int64, orderNo string, care bool) (*OrderHelp, error) {
	o, err := findUserOrder(ctx, s.orders, userID, orderNo, "订单不存在")
	if err != nil {
		return nil, err
	}
	events, err := s.orders.OrderEvents(ctx, orderNo)
	if err != nil {
		return nil, err
	}
	h := &OrderHelp{OrderNo: o.No, Status: o.Status}
	for _, e := range events {
		if e.Type == "info_delay" {
			for _, b := range o.Batches {
				if b.Seq == e.BatchSeq && b.Status == StatusPosting {
					h.Delayed = true
				}
			}
		}
	}
	text, ok := orderHelpText[o.Status]
	if !ok {
		text = orderStateHelp{string(o.Status), "订单状态正在更新。", "如有疑问请提交工单。", "状态在更新，有问题请提交工单。", []string{"ticket"}}
	}
	if h.Delayed {
		text = delayedHelp
	}
	h.Title, h.Explanation, h.NextAction = text.title, text.explain, text.next
	if care {
		h.Explanation, h.NextAction = text.plain, ""
	}
	for _, id := range text.related {
		if e, ok := s.Entry(id, care); ok {
			h.Related = append(h.Related, e)
		}
	}
	return h, nil
}

package paysim

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shebao/sipay/service"
)

type billFile struct {
	data []byte
	gzip bool
}

// InjectBillMismatch makes the trade bill report totalFen as the amount of
// outTradeNo's SUCCESS row, so reconciliation tests see a difference.
func (s *Sim) InjectBillMismatch(outTradeNo string, totalFen service.Fen) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.billAlter[outTradeNo] = totalFen
}

var billHeader = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识",
	"交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
	"充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注"}

var billSummaryHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"

type billLine struct {
	at     time.Time
	fields []string
}

// TradeBillCSV renders the trade bill of date (YYYY-MM-DD, Asia/Shanghai)
// as WeChat Pay does: header, backticked rows with yuan amounts, summary.
// billType is ALL, SUCCESS or REFUND. It reports false when the day has no
// rows (WeChat answers NO_STATEMENT_EXIST).
func (s *Sim) TradeBillCSV(date, billType string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []billLine
	day := func(t time.Time) string { return t.In(service.Shanghai).Format("2006-01-02") }
	y := func(fen int64) string { return service.Fen(fen).String() }
	for _, no := range s.tradeOrder {
		tr := s.trades[no]
		if tr.TransactionID == "" {
			continue
		}
		if (billType == "ALL" || billType == "SUCCESS") && day(tr.SuccessTime) == date {
			total := tr.Total
			if v, ok := s.billAlter[no]; ok {
				total = int64(v)
			}
			lines = append(lines, billLine{tr.SuccessTime, []string{
				tr.SuccessTime.In(service.Shanghai).Format("2006-01-02 15:04:05"), tr.AppID, tr.MchID, "0", "",
				tr.TransactionID, tr.OutTradeNo, tr.OpenID, "JSAPI", "SUCCESS", "OTHERS", "CNY", y(total), "0.00",
				"0", "0", "0.00", "0.00", "", "", tr.Description, tr.Attach, fee(total), "0.60%", y(total), "0.00", ""}})
		}
		if billType != "ALL" && billType != "REFUND" {
			continue
		}
		for _, r := range tr.refunds {
			if r.Status != "SUCCESS" || day(r.SuccessTime) != date {
				continue
			}
			lines = append(lines, billLine{r.SuccessTime, []string{
				r.SuccessTime.In(service.Shanghai).Format("2006-01-02 15:04:05"), tr.AppID, tr.MchID, "0", "",
				tr.TransactionID, tr.OutTradeNo, tr.OpenID, "JSAPI", "REFUND", "OTHERS", "CNY", "0.00", "0.00",
				r.RefundID, r.OutRefundNo, y(r.Refund), "0.00", "ORIGINAL", "SUCCESS", tr.Description, tr.Attach,
				"-" + fee(r.Refund), "0.60%", y(tr.Total), y(r.Refund), ""}})
		}
	}
	if len(lines) == 0 {
		return nil, false
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	var b bytes.Buffer
	b.WriteString(strings.Join(billHeader, ",") + "\r\n")
	var settle, refund, order, asked, fees int64
	for _, l := range lines {
		b.WriteString("`" + strings.Join(l.fields, ",`") + "\r\n")
		settle += mustFen(l.fields[12])
		refund += mustFen(l.fields[16])
		order += mustFen(l.fields[24])
		asked += mustFen(l.fields[25])
		if l.fields[9] == "SUCCESS" {
			fees += mustFen(l.fields[12]) * 6
		} else {
			fees -= mustFen(l.fields[16]) * 6
		}
	}
	b.WriteString(billSummaryHeader + "\r\n")
	fmt.Fprintf(&b, "`%d,`%s,`%s,`0.00,`%s,`%s,`%s\r\n", len(lines), y(settle), y(refund), fee5(fees), y(order), y(asked))
	return b.Bytes(), true
}

// fee is the 0.6% handling fee of fen, in yuan with five decimals.
func fee(fen int64) string { return fee5(fen * 6) }

// fee5 formats an amount in 1e-5 yuan.
func fee5(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%05d", sign, v/100000, v%100000)
}

func mustFen(s string) int64 {
	f, err := service.ParseYuan(s)
	if err != nil {
		panic(err)
	}
	return int64(f)
}

func (s *Sim) handleTradeBill(r *http.Request, _ []byte) reply {
	q := r.URL.Query()
	date := q.Get("bill_date")
	d, err := time.ParseInLocation("2006-01-02", date, service.Shanghai)
	if err != nil {
		return paramError("bill_date 格式须为 YYYY-MM-DD")
	}
	billType := q.Get("bill_type")
	if billType == "" {
		billType = "ALL"
	}
	if billType != "ALL" && billType != "SUCCESS" && billType != "REFUND" {
		return paramError("bill_type 须为 ALL、SUCCESS 或 REFUND")
	}
	tar := q.Get("tar_type")
	if tar != "" && tar != "GZIP" {
		return paramError("tar_type 只支持 GZIP")
	}
	now := s.cfg.Clock.Now().In(service.Shanghai)
	if d.After(now) {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "账单日期不能晚于今天")
	}
	if now.Sub(d) > 93*24*time.Hour {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "只能下载三个月以内的账单")
	}
	data, ok := s.TradeBillCSV(date, billType)
	if !ok {
		return apiError(http.StatusBadRequest, "NO_STATEMENT_EXIST", "账单文件不存在")
	}
	sum := sha1.Sum(data)
	f := billFile{data: data}
	if tar == "GZIP" {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(data)
		_ = zw.Close()
		f = billFile{data: gz.Bytes(), gzip: true}
	}
	token := randomHex(32)
	s.mu.Lock()
	s.bills[token] = f
	s.mu.Unlock()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return jsonReply(http.StatusOK, map[string]string{"hash_type": "SHA1", "hash_value": hex.EncodeToString(sum[:]),
		"download_url": scheme + "://" + r.Host + "/v3/billdownload/file?token=" + token})
}

func (s *Sim) handleBillDownload(r *http.Request, _ []byte) reply {
	s.mu.Lock()
	f, ok := s.bills[r.URL.Query().Get("token")]
	s.mu.Unlock()
	if !ok {
		return apiError(http.StatusBadRequest, "INVALID_REQUEST", "下载链接无效或已过期")
	}
	ct := "text/plain; charset=utf-8"
	if f.gzip {
		ct = "application/x-gzip"
	}
	return reply{status: http.StatusOK, body: f.data, contentType: ct, unsigned: true}
}

package wxpay

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shebao/sipay/service"
	"github.com/wechatpay-apiv3/wechatpay-go/core"
)

// maxBillSize bounds a downloaded (and decompressed) bill.
const maxBillSize = 256 << 20

// BillSummary is the summary block at the end of a trade bill.
type BillSummary struct {
	Count       int         // 总交易单数
	SettleTotal service.Fen // 应结订单总金额
	RefundTotal service.Fen // 退款总金额
	OrderTotal  service.Fen // 订单总金额
	AskedRefund service.Fen // 申请退款总金额
}

// TradeBill downloads the ALL trade bill of day (its Asia/service.Shanghai date),
// checks its SHA1 and parses it. Amounts are exact fen. A day without
// transactions has no bill (NO_STATEMENT_EXIST): no rows and no error.
func (c *Client) TradeBill(ctx context.Context, day time.Time) ([]service.BillRow, error) {
	date := day.In(service.Shanghai).Format("2006-01-02")
	q := url.Values{"bill_date": {date}, "bill_type": {"ALL"}, "tar_type": {"GZIP"}}
	res, err := c.api.Get(ctx, apiURL("/v3/bill/tradebill?"+q.Encode()))
	if err != nil {
		var apiErr *core.APIError
		if errors.As(err, &apiErr) && apiErr.Code == "NO_STATEMENT_EXIST" {
			return nil, nil // no transaction that day: WeChat has no bill
		}
		return nil, gatewayErr("tradebill "+date, err)
	}
	defer res.Response.Body.Close()
	var meta struct {
		HashType    string `json:"hash_type"`
		HashValue   string `json:"hash_value"`
		DownloadURL string `json:"download_url"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Response.Body, 1<<20)).Decode(&meta); err != nil {
		return nil, fmt.Errorf("wxpay tradebill %s: %w", date, err)
	}
	if meta.DownloadURL == "" || !strings.EqualFold(meta.HashType, "SHA1") {
		return nil, fmt.Errorf("wxpay tradebill %s: unexpected reply (hash_type %q, download_url %q)", date, meta.HashType, meta.DownloadURL)
	}
	dres, err := c.download.Get(ctx, meta.DownloadURL)
	if err != nil {
		return nil, gatewayErr("download bill "+date, err)
	}
	defer dres.Response.Body.Close()
	var r io.Reader = io.LimitReader(dres.Response.Body, maxBillSize)
	if zr, err := gzip.NewReader(r); err == nil {
		defer zr.Close()
		r = io.LimitReader(zr, maxBillSize)
	} else {
		return nil, fmt.Errorf("wxpay download bill %s: not gzip: %w", date, err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("wxpay download bill %s: %w", date, err)
	}
	sum := sha1.Sum(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, meta.HashValue) {
		return nil, fmt.Errorf("wxpay download bill %s: sha1 %s, want %s", date, got, meta.HashValue)
	}
	rows, _, err := ParseTradeBill(data)
	if err != nil {
		return nil, fmt.Errorf("wxpay bill %s: %w", date, err)
	}
	return rows, nil
}

// ParseTradeBill parses a WeChat Pay trade bill (CSV): one header line, data
// rows whose fields all start with a backtick, then a summary header line
// (总交易单数,…) and one summary row. Columns are found by their Chinese
// names, so ALL, SUCCESS and REFUND bills parse alike. Amounts in yuan are
// converted to fen exactly with service.ParseYuan. The row count must equal
// the summary's 总交易单数.
func ParseTradeBill(data []byte) ([]service.BillRow, BillSummary, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	var nonEmpty []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			nonEmpty = append(nonEmpty, l)
		}
	}
	if len(nonEmpty) < 3 {
		return nil, BillSummary{}, errors.New("bill too short: want header, summary header and summary row")
	}
	header := strings.Split(nonEmpty[0], ",")
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	need := func(names ...string) (int, error) {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i, nil
			}
		}
		return 0, fmt.Errorf("bill header lacks column %s", names[0])
	}
	var idx struct{ time, appid, mchid, txid, outTrade, state, total, refundID, outRefund, refund, refundStatus int }
	for _, c := range []struct {
		dst   *int
		names []string
	}{
		{&idx.time, []string{"交易时间"}}, {&idx.appid, []string{"公众账号ID"}}, {&idx.mchid, []string{"商户号"}},
		{&idx.txid, []string{"微信订单号"}}, {&idx.outTrade, []string{"商户订单号"}}, {&idx.state, []string{"交易状态"}},
		{&idx.total, []string{"订单金额", "应结订单金额"}}, {&idx.refundID, []string{"微信退款单号"}},
		{&idx.outRefund, []string{"商户退款单号"}}, {&idx.refund, []string{"申请退款金额", "退款金额"}},
		{&idx.refundStatus, []string{"退款状态"}},
	} {
		i, err := need(c.names...)
		if err != nil {
			return nil, BillSummary{}, err
		}
		*c.dst = i
	}

	var rows []service.BillRow
	i := 1
	for ; i < len(nonEmpty) && strings.HasPrefix(nonEmpty[i], "`"); i++ {
		f := splitBillLine(nonEmpty[i])
		if len(f) != len(header) {
			return nil, BillSummary{}, fmt.Errorf("bill line %d: %d fields, want %d", i+1, len(f), len(header))
		}
		tt, err := time.ParseInLocation("2006-01-02 15:04:05", f[idx.time], service.Shanghai)
		if err != nil {
			return nil, BillSummary{}, fmt.Errorf("bill line %d: trade time %q", i+1, f[idx.time])
		}
		total, err := service.ParseYuan(f[idx.total])
		if err != nil {
			return nil, BillSummary{}, fmt.Errorf("bill line %d: order amount: %w", i+1, err)
		}
		refund, err := service.ParseYuan(f[idx.refund])
		if err != nil {
			return nil, BillSummary{}, fmt.Errorf("bill line %d: refund amount: %w", i+1, err)
		}
		rows = append(rows, service.BillRow{
			TradeTime: tt, AppID: f[idx.appid], MchID: f[idx.mchid], TransactionID: f[idx.txid],
			OutTradeNo: f[idx.outTrade], TradeState: service.TradeState(f[idx.state]), TotalFen: total,
			RefundID: zeroIsEmpty(f[idx.refundID]), OutRefundNo: zeroIsEmpty(f[idx.outRefund]),
			RefundFen: refund, RefundStatus: service.RefundStatus(f[idx.refundStatus]),
		})
	}
	if i+2 != len(nonEmpty) {
		return nil, BillSummary{}, fmt.Errorf("bill: %d lines after the rows, want summary header and summary row", len(nonEmpty)-i)
	}
	sumHeader := strings.Split(nonEmpty[i], ",")
	sumRow := splitBillLine(nonEmpty[i+1])
	if len(sumHeader) != len(sumRow) {
		return nil, BillSummary{}, errors.New("bill summary: header and row differ in length")
	}
	var s BillSummary
	for j, h := range sumHeader {
		v := sumRow[j]
		var err error
		switch strings.TrimSpace(h) {
		case "总交易单数":
			s.Count, err = strconv.Atoi(v)
		case "应结订单总金额":
			s.SettleTotal, err = service.ParseYuan(v)
		case "退款总金额":
			s.RefundTotal, err = service.ParseYuan(v)
		case "订单总金额":
			s.OrderTotal, err = service.ParseYuan(v)
		case "申请退款总金额":
			s.AskedRefund, err = service.ParseYuan(v)
		}
		if err != nil {
			return nil, BillSummary{}, fmt.Errorf("bill summary %s: %w", h, err)
		}
	}
	if s.Count != len(rows) {
		return nil, BillSummary{}, fmt.Errorf("bill: %d rows, summary says %d", len(rows), s.Count)
	}
	return rows, s, nil
}

// splitBillLine splits a bill line whose fields each start with a backtick.
// Splitting on ",`" keeps commas inside a field (goods names) intact.
func splitBillLine(line string) []string {
	parts := strings.Split(strings.TrimPrefix(strings.TrimRight(line, "\r"), "`"), ",`")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// zeroIsEmpty maps the bill's "0" placeholder for absent refund ids to "".
func zeroIsEmpty(s string) string {
	if s == "0" {
		return ""
	}
	return s
}

package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/silenceper/wechat/v2/miniprogram/subscribe"
	"github.com/silenceper/wechat/v2/util"

	"github.com/shebao/sipay/redact"
	"github.com/shebao/sipay/service"
)

// subscribeSendURL is silenceper's miniprogram/subscribe endpoint
// (subscribeMessage.send).
const subscribeSendURL = APIHost + "/cgi-bin/message/subscribe/send?access_token="

// SendSubscribe sends one subscribe message (订阅消息) with silenceper's
// miniprogram/subscribe message type and its HTTP helpers. Its
// Subscribe.Send takes no context, so the request would not carry this
// client's transport (WECHAT_API_BASE) or timeout: the same POST is made
// with util.PostJSONContext and decoded with util.DecodeWithCommonError, as
// Send does. WeChat's refusals come back as *service.SubscribeError with the
// errcode (43101: no grant); transport failures as they are (transient).
func (c *Client) SendSubscribe(ctx context.Context, openID, templateID, page string, data map[string]string) error {
	items := make(map[string]*subscribe.DataItem, len(data))
	for k, v := range data {
		items[k] = &subscribe.DataItem{Value: v}
	}
	token, err := c.AccessToken(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := c.sdkContext(ctx)
	defer cancel()
	resp, err := util.PostJSONContext(ctx, subscribeSendURL+token, &subscribe.Message{ToUser: openID, TemplateID: templateID,
		Page: page, Data: items, MiniprogramState: "formal", Lang: "zh_CN"})
	if err != nil {
		// Never the URL: it carries the access token (and this error is
		// kept in the outbox's last_error).
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("subscribe send: %s: %w", ue.Op, ue.Err)
		}
		return fmt.Errorf("subscribe send: %s", redact.String(err.Error(), nil))
	}
	err = util.DecodeWithCommonError(resp, "Send")
	var ce *util.CommonError
	if errors.As(err, &ce) {
		return &service.SubscribeError{ErrCode: int(ce.ErrCode), ErrMsg: ce.ErrMsg}
	}
	return err
}

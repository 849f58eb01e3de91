package wechat

import (
	"context"
	"errors"

	"github.com/silenceper/wechat/v2/miniprogram/subscribe"
	"github.com/silenceper/wechat/v2/util"

	"github.com/shebao/sipay/service"
)

// SendSubscribe sends one subscribe message (订阅消息) through silenceper's
// miniprogram/subscribe (POST /cgi-bin/message/subscribe/send). WeChat's
// refusals come back as *service.SubscribeError with the errcode (43101: no
// grant); transport failures as they are (transient). silenceper's Send has
// no context: the HTTP client's timeout bounds the call.
func (c *Client) SendSubscribe(ctx context.Context, openID, templateID, page string, data map[string]string) error {
	items := make(map[string]*subscribe.DataItem, len(data))
	for k, v := range data {
		items[k] = &subscribe.DataItem{Value: v}
	}
	err := c.mp.GetSubscribe().Send(&subscribe.Message{ToUser: openID, TemplateID: templateID, Page: page, Data: items,
		MiniprogramState: "formal", Lang: "zh_CN"})
	var ce *util.CommonError
	if errors.As(err, &ce) {
		return &service.SubscribeError{ErrCode: int(ce.ErrCode), ErrMsg: ce.ErrMsg}
	}
	return err
}

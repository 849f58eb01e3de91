package regions

import "github.com/shebao/sipay/service"

// creditPayFile is the credit_pay block of a region file (社保信用付: pay
// now through a WeChat Pay Score service order, collected next month).
type creditPayFile struct {
	Enabled            bool       `yaml:"enabled"`
	EnabledSource      figureFile `yaml:"enabled_source"`
	LimitFen           int64      `yaml:"limit_fen"`
	LimitSource        figureFile `yaml:"limit_source"`
	CollectionDay      int        `yaml:"collection_day"`
	CollectionDaySrc   figureFile `yaml:"collection_day_source"`
	BackPayments       bool       `yaml:"back_payments"`
	BackPaymentsSource figureFile `yaml:"back_payments_source"`
}

func toCreditPay(f *creditPayFile) *service.CreditPayRule {
	if f == nil {
		return nil
	}
	return &service.CreditPayRule{
		Enabled: f.Enabled, EnabledSource: toFigure(f.EnabledSource),
		LimitFen: service.Fen(f.LimitFen), LimitSource: toFigure(f.LimitSource),
		CollectionDay: f.CollectionDay, CollectionDaySource: toFigure(f.CollectionDaySrc),
		BackPayments: f.BackPayments, BackPaymentsSource: toFigure(f.BackPaymentsSource),
	}
}

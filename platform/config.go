// Package platform implements service.Platform over the provincial
// social-security platform protocol of docs/platform-protocol.md: signed
// HTTPS+JSON requests to the platform, signed responses, and signed callbacks
// from the platform to us.
package platform

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// Credentials are what we share with one provincial platform: the app id we
// are known by, the HMAC secret, and the platform's base URL
// (e.g. https://si.example.gov.cn, without the /si/v1 part).
type Credentials struct {
	AppID   string
	Secret  string
	BaseURL string
}

// Valid reports whether c has an app id and a secret.
func (c Credentials) Valid() bool { return c.AppID != "" && c.Secret != "" }

// String masks the secret.
func (c Credentials) String() string {
	s := ""
	if c.Secret != "" {
		s = "***"
	}
	return fmt.Sprintf("{AppID:%s Secret:%s BaseURL:%s}", c.AppID, s, c.BaseURL)
}

// Config configures the platform client and the callback verifier.
type Config struct {
	// Default is used for regions without an entry in Regions. Leave it zero
	// to refuse unlisted regions.
	Default Credentials
	// Regions maps a region code to its own credentials.
	Regions map[string]Credentials
	// Timeout bounds one HTTP exchange; zero means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is the per-request timeout when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Lookup returns the credentials of region: its own entry, else Default.
func (c Config) Lookup(region string) (Credentials, bool) {
	if cr, ok := c.Regions[region]; ok && cr.Valid() {
		return cr, true
	}
	if c.Default.Valid() {
		return c.Default, true
	}
	return Credentials{}, false
}

// RegionCreds expands c into one entry per listed region (plus every region
// in c.Regions), for CallbackVerifier.Creds. Regions without credentials are
// left out, so their callbacks are answered 404.
func (c Config) RegionCreds(regions ...string) map[string]Credentials {
	out := make(map[string]Credentials, len(regions)+len(c.Regions))
	for r, cr := range c.Regions {
		if cr.Valid() {
			out[r] = cr
		}
	}
	for _, r := range regions {
		if cr, ok := c.Lookup(r); ok {
			out[r] = cr
		}
	}
	return out
}

// Validate checks that every configured credential is complete and has a
// base URL.
func (c Config) Validate() error {
	var errs []error
	check := func(name string, cr Credentials) {
		if !cr.Valid() {
			errs = append(errs, fmt.Errorf("platform %s: app id and secret are required", name))
		}
		if cr.BaseURL == "" {
			errs = append(errs, fmt.Errorf("platform %s: base URL is required", name))
		}
	}
	if c.Default != (Credentials{}) {
		check("default", c.Default)
	}
	names := make([]string, 0, len(c.Regions))
	for r := range c.Regions {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		check("region "+r, c.Regions[r])
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("platform: timeout must not be negative"))
	}
	return errors.Join(errs...)
}

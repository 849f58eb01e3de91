package cache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/service"
)

// SessionStore keeps opaque login tokens. Only a hash of the token is used
// as the key, so a Redis dump does not reveal usable tokens.
//
// A token is "<user id>.<32 random bytes, base64url>". The user id puts
// every key of the user in one Redis Cluster hash slot ("{<id>}"): the
// session "sess:{<id>}:<sha256 of the whole token>", the session generation
// "sessgen:{<id>}" and the rate limits "rl:{<id>}:<route>:<window>"
// (service.UserLimitKey), so one MGET finds a session and one script finds
// it and counts the route's limit. The id in the token is not trusted: the
// key is the hash of the whole token, and the stored session names its user.
//
// Tokens of the old format (the random part alone, no "."; session
// "sess:<sha256>", generation "sessgen:<id>") still work until they expire,
// through two GETs; RevokeUserSessions bumps both generations. Once
// SESSION_TTL has passed since the deploy, no old token is left and the old
// path and key can go.
type SessionStore struct {
	rdb   redis.UniversalClient
	clock service.Clock

	// pending are user snapshots waiting for their user's next session
	// lookup on this instance (RememberUser), by user id.
	mu      sync.Mutex
	pending map[int64]string
}

// NewSessionStore returns a SessionStore.
func NewSessionStore(rdb redis.UniversalClient, clock service.Clock) *SessionStore {
	return &SessionStore{rdb: rdb, clock: clock}
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// userTag is the hash tag of a user's keys.
func userTag(userID int64) string { return "{" + strconv.FormatInt(userID, 10) + "}" }

func userSessionKey(userID int64, token string) string {
	return "sess:" + userTag(userID) + ":" + tokenHash(token)
}
func userGenerationKey(userID int64) string { return "sessgen:" + userTag(userID) }
func userSnapshotKey(userID int64) string   { return "usnap:" + userTag(userID) }

// Old format.
func sessionKey(token string) string    { return "sess:" + tokenHash(token) }
func generationKey(userID int64) string { return "sessgen:" + strconv.FormatInt(userID, 10) }

// tokenUser returns the user id a token of the current format names; ok is
// false for a token of the old format. A token with a "." and no valid id
// is neither (bad).
func tokenUser(token string) (userID int64, ok, bad bool) {
	ids, rest, found := strings.Cut(token, ".")
	if !found {
		return 0, false, false
	}
	id, err := strconv.ParseInt(ids, 10, 64)
	if err != nil || id <= 0 || rest == "" || strconv.FormatInt(id, 10) != ids {
		return 0, false, true
	}
	return id, true, false
}

// createScript stores a session with the user's current generation in one
// step (KEYS: session, generation, optionally the user's snapshot; ARGV:
// "<id>|<expiry>", TTL in ms, the snapshot, kept as long as the session).
var createScript = redis.NewScript(`local g = redis.call("GET", KEYS[2]) or "0"
redis.call("SET", KEYS[1], ARGV[1] .. "|" .. g, "PX", ARGV[2])
if KEYS[3] then redis.call("SET", KEYS[3], ARGV[3], "PX", ARGV[2]) end
return g`)

// CreateSession stores a new random token for userID until expiresAt. The
// session remembers the user's session generation: RevokeUserSessions bumps
// it and every older session stops working.
func (s *SessionStore) CreateSession(ctx context.Context, userID int64, expiresAt time.Time) (string, error) {
	return s.createSession(ctx, userID, expiresAt, "")
}

// CreateSessionFor is CreateSession for u that also stores u's snapshot
// (service.UserSnapshotFinder) in the same script when u is verified and
// carries its identity (read by UserStore.FindUserByID), for as long as
// the session lasts.
func (s *SessionStore) CreateSessionFor(ctx context.Context, u *service.User, expiresAt time.Time) (string, error) {
	return s.createSession(ctx, u.ID, expiresAt, formatSnapshot(u))
}

func (s *SessionStore) createSession(ctx context.Context, userID int64, expiresAt time.Time, snap string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := strconv.FormatInt(userID, 10) + "." + base64.RawURLEncoding.EncodeToString(b)
	ttl := expiresAt.Sub(s.clock.Now())
	if ttl <= 0 {
		return "", fmt.Errorf("create session: expiry in the past")
	}
	val := strconv.FormatInt(userID, 10) + "|" + strconv.FormatInt(expiresAt.Unix(), 10)
	keys, args := []string{userSessionKey(userID, token), userGenerationKey(userID)}, []any{val, max(ttl.Milliseconds(), 1)}
	if snap != "" {
		keys, args = append(keys, userSnapshotKey(userID)), append(args, snap)
	}
	err := createScript.Run(ctx, s.rdb, keys, args...).Err()
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return token, nil
}

// parseSession reads a stored session "<id>|<expiry unix>|<generation>"
// (the generation may be missing in sessions older than it).
func parseSession(val string) (id int64, expiresAt time.Time, gen int64, ok bool) {
	parts := strings.Split(val, "|")
	if len(parts) < 2 {
		return 0, time.Time{}, 0, false
	}
	id, err1 := strconv.ParseInt(parts[0], 10, 64)
	unix, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, 0, false
	}
	if len(parts) > 2 {
		var err error
		if gen, err = strconv.ParseInt(parts[2], 10, 64); err != nil {
			return 0, time.Time{}, 0, false
		}
	}
	return id, time.Unix(unix, 0), gen, true
}

// live reports whether a session of generation gen expiring at expiresAt is
// in force at now given the user's current generation cur.
func live(expiresAt time.Time, gen, cur int64, now time.Time) bool {
	return now.Before(expiresAt) && gen >= cur
}

// FindSession returns the user of a live token, or ErrNotFound. Expiry is
// checked against the injected clock as well as by the Redis TTL, and a
// session of an older generation (revoked) is not found. A token of the
// current format costs one MGET (session and generation share a slot).
func (s *SessionStore) FindSession(ctx context.Context, token string) (int64, time.Time, error) {
	uid, ok, bad := tokenUser(token)
	if bad {
		return 0, time.Time{}, service.ErrNotFound
	}
	if !ok {
		return s.findOldSession(ctx, token)
	}
	vals, err := s.rdb.MGet(ctx, userSessionKey(uid, token), userGenerationKey(uid)).Result()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("find session: %w", err)
	}
	val, _ := vals[0].(string)
	id, exp, gen, ok := parseSession(val)
	if !ok || id != uid {
		return 0, time.Time{}, service.ErrNotFound
	}
	var cur int64
	if g, _ := vals[1].(string); g != "" {
		if cur, err = strconv.ParseInt(g, 10, 64); err != nil {
			return 0, time.Time{}, fmt.Errorf("find session: generation %q", g)
		}
	}
	if !live(exp, gen, cur, s.clock.Now()) {
		return 0, time.Time{}, service.ErrNotFound
	}
	return id, exp, nil
}

// findOldSession looks a token of the old format up: the session, then its
// user's generation.
func (s *SessionStore) findOldSession(ctx context.Context, token string) (int64, time.Time, error) {
	val, err := s.rdb.Get(ctx, sessionKey(token)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, time.Time{}, service.ErrNotFound
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("find session: %w", err)
	}
	id, exp, gen, ok := parseSession(val)
	if !ok {
		return 0, time.Time{}, service.ErrNotFound
	}
	if !s.clock.Now().Before(exp) {
		return 0, time.Time{}, service.ErrNotFound
	}
	cur, err := s.rdb.Get(ctx, generationKey(id)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, time.Time{}, fmt.Errorf("find session: %w", err)
	}
	if !live(exp, gen, cur, s.clock.Now()) {
		return 0, time.Time{}, service.ErrNotFound
	}
	return id, exp, nil
}

// findCountingScript finds a live session and only then counts one event
// of its user's limit (KEYS: session, generation, limit window; ARGV: the
// token's user id, now in unix seconds, the window key's TTL in ms). It
// returns 0 for no live session, else {expiry, count}. The checks are
// FindSession's: the stored user is the token's, now is before the
// expiry, the generation is not older than the user's.
var findCountingScript = redis.NewScript(findCountingLua + `return {tonumber(exp), n}`)

// findCountingLua is findCountingScript up to its answer: the checks and
// the count (n), or 0 for no live session.
const findCountingLua = `local v = redis.call("GET", KEYS[1])
if not v then return 0 end
local uid, exp, gen = string.match(v, "^(%d+)|(%-?%d+)|(%d+)$")
if uid ~= ARGV[1] or tonumber(exp) <= tonumber(ARGV[2]) then return 0 end
if tonumber(gen) < tonumber(redis.call("GET", KEYS[2]) or "0") then return 0 end
local n = redis.call("INCR", KEYS[3])
if n == 1 then redis.call("PEXPIRE", KEYS[3], ARGV[3]) end
`

// FindSessionCounting is FindSession that, for a live session, counts one
// event of l for its user in the same round trip (one script over keys of
// the user's hash slot). An unknown, expired or revoked token counts
// nothing. A token of the old format is looked up as FindSession does and
// nothing is counted (the verdict is not Counted).
func (s *SessionStore) FindSessionCounting(ctx context.Context, token string, l service.UserLimit) (int64, time.Time, service.LimitVerdict, error) {
	uid, ok, bad := tokenUser(token)
	if bad {
		return 0, time.Time{}, service.LimitVerdict{}, service.ErrNotFound
	}
	if !ok {
		id, exp, err := s.findOldSession(ctx, token)
		return id, exp, service.LimitVerdict{}, err
	}
	now := s.clock.Now()
	w := windowOf(service.UserLimitKey(uid, l.Route), now, l.Window)
	res, err := findCountingScript.Run(ctx, s.rdb, []string{userSessionKey(uid, token), userGenerationKey(uid), w.key},
		uid, now.Unix(), w.ttlMillis()).Result()
	if err != nil {
		return 0, time.Time{}, service.LimitVerdict{}, fmt.Errorf("find session: %w", err)
	}
	r, _ := res.([]any) // 0: no live session
	if len(r) != 2 {
		return 0, time.Time{}, service.LimitVerdict{}, service.ErrNotFound
	}
	exp, v, err := countedVerdict(r, w, l.Limit)
	if err != nil {
		return 0, time.Time{}, service.LimitVerdict{}, err
	}
	return uid, exp, v, nil
}

// countedVerdict reads the expiry and the count a counting script answers
// first, for window w of a limit of limit events.
func countedVerdict(r []any, w window, limit int) (time.Time, service.LimitVerdict, error) {
	exp, ok1 := r[0].(int64)
	n, ok2 := r[1].(int64)
	if !ok1 || !ok2 {
		return time.Time{}, service.LimitVerdict{}, fmt.Errorf("find session: script answered %v", r)
	}
	allowed, retry := w.verdict(n, limit)
	return time.Unix(exp, 0), service.LimitVerdict{Counted: true, Allowed: allowed, RetryAfter: retry}, nil
}

// RevokeUserSessions ends every session of userID issued so far: it bumps
// the user's generation, and the old format's until its tokens are gone.
func (s *SessionStore) RevokeUserSessions(ctx context.Context, userID int64) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, userGenerationKey(userID))
		p.Incr(ctx, generationKey(userID))
		return nil
	})
	return err
}

// DeleteSession removes a token (logout).
func (s *SessionStore) DeleteSession(ctx context.Context, token string) error {
	uid, ok, bad := tokenUser(token)
	switch {
	case bad:
		return nil
	case ok:
		return s.rdb.Del(ctx, userSessionKey(uid, token)).Err()
	}
	return s.rdb.Del(ctx, sessionKey(token)).Err()
}

// User snapshots (service.UserSnapshotFinder). A verified user's snapshot
// is kept beside the user's sessions, "usnap:{<id>}", for SnapshotTTL, as
// "1|<person id>|<ID type>|<face 0/1>|<region method,...>|<openid>". It is
// only ever a lower bound of the user row (see
// service.AuthService.AuthenticateCached), so it needs no invalidation:
// what it holds never stops being true. A change that made one of those
// facts false (unbinding a person, withdrawing evidence) would have to
// delete the key and stop the use cases from allowing on it.

// SnapshotTTL is how long a user snapshot is kept after it was stored.
const SnapshotTTL = time.Hour

// maxPendingSnapshots bounds the snapshots waiting on one instance.
const maxPendingSnapshots = 10000

// findSnapshotScript is findCountingScript that, for a live session, also
// stores the snapshot ARGV[4] when it is not empty (TTL ARGV[5] ms) and
// returns the user's snapshot (KEYS[4]): {expiry, count, snapshot or nil}.
var findSnapshotScript = redis.NewScript(findCountingLua + `local snap = ARGV[4]
if snap ~= "" then
  redis.call("SET", KEYS[4], snap, "PX", ARGV[5])
else
  snap = redis.call("GET", KEYS[4])
end
return {tonumber(exp), n, snap}`)

// FindSessionSnapshot is FindSessionCounting that also returns the user's
// snapshot (nil when there is none) and stores the one RememberUser kept
// for the user, in the same script. An unknown, expired or revoked token
// gets nothing and stores nothing. A token of the old format gets no
// snapshot.
func (s *SessionStore) FindSessionSnapshot(ctx context.Context, token string, l service.UserLimit) (int64, time.Time, service.LimitVerdict, *service.User, error) {
	uid, ok, bad := tokenUser(token)
	if bad {
		return 0, time.Time{}, service.LimitVerdict{}, nil, service.ErrNotFound
	}
	if !ok {
		id, exp, err := s.findOldSession(ctx, token)
		return id, exp, service.LimitVerdict{}, nil, err
	}
	now := s.clock.Now()
	w := windowOf(service.UserLimitKey(uid, l.Route), now, l.Window)
	fill := s.takePending(uid)
	res, err := findSnapshotScript.Run(ctx, s.rdb, []string{userSessionKey(uid, token), userGenerationKey(uid), w.key, userSnapshotKey(uid)},
		uid, now.Unix(), w.ttlMillis(), fill, SnapshotTTL.Milliseconds()).Result()
	r, _ := res.([]any) // 0: no live session
	if len(r) != 3 && fill != "" {
		s.putBack(uid, fill) // not stored: kept for the user's next lookup
	}
	if err != nil {
		return 0, time.Time{}, service.LimitVerdict{}, nil, fmt.Errorf("find session: %w", err)
	}
	if len(r) != 3 {
		return 0, time.Time{}, service.LimitVerdict{}, nil, service.ErrNotFound
	}
	exp, v, err := countedVerdict(r, w, l.Limit)
	if err != nil {
		return 0, time.Time{}, service.LimitVerdict{}, nil, err
	}
	snap, _ := r[2].(string)
	return uid, exp, v, parseSnapshot(uid, snap), nil
}

// RememberUser keeps the snapshot of u (verified, read from the database)
// for the user's next FindSessionSnapshot on this instance, which stores
// it in its script: filling the snapshot costs no round trip of its own.
func (s *SessionStore) RememberUser(u *service.User) {
	v := formatSnapshot(u)
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil || len(s.pending) >= maxPendingSnapshots {
		s.pending = map[int64]string{}
	}
	s.pending[u.ID] = v
}

func (s *SessionStore) takePending(uid int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.pending[uid]
	delete(s.pending, uid)
	return v
}

// putBack returns a snapshot takePending took unless a newer one came.
func (s *SessionStore) putBack(uid int64, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[uid]; !ok && s.pending != nil && len(s.pending) < maxPendingSnapshots {
		s.pending[uid] = v
	}
}

// formatSnapshot returns the stored form of u's snapshot, or "" when u is
// not a verified user with its identity.
func formatSnapshot(u *service.User) string {
	if u == nil || u.PersonID == 0 || u.Self == nil || u.Self.IDType == "" || u.OpenID == "" {
		return ""
	}
	face := "0"
	if u.Self.Face {
		face = "1"
	}
	checks := make([]string, 0, len(u.Self.Checks))
	for _, c := range u.Self.Checks {
		if strings.ContainsAny(c.Region+c.Method, " ,|") {
			return ""
		}
		checks = append(checks, c.Region+" "+c.Method)
	}
	if strings.Contains(string(u.Self.IDType), "|") {
		return ""
	}
	return "1|" + strconv.FormatInt(u.PersonID, 10) + "|" + string(u.Self.IDType) + "|" + face + "|" +
		strings.Join(checks, ",") + "|" + u.OpenID
}

// parseSnapshot reads a stored snapshot of user uid; nil when there is
// none or it cannot be read.
func parseSnapshot(uid int64, v string) *service.User {
	parts := strings.SplitN(v, "|", 6)
	if len(parts) != 6 || parts[0] != "1" || parts[2] == "" || parts[5] == "" {
		return nil
	}
	pid, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || pid <= 0 {
		return nil
	}
	self := &service.SelfIdentity{IDType: service.IDType(parts[2]), Face: parts[3] == "1", Cached: true}
	if parts[4] != "" {
		for _, rm := range strings.Split(parts[4], ",") {
			region, method, ok := strings.Cut(rm, " ")
			if !ok {
				return nil
			}
			self.Checks = append(self.Checks, service.RegionMethod{Region: region, Method: method})
		}
	}
	return &service.User{ID: uid, OpenID: parts[5], PersonID: pid, Self: self}
}

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shebao/sipay/cache"
	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/service"
)

// benchUser is a seeded user with a live session token.
type benchUser struct {
	ID       int64
	OpenID   string
	Token    string
	PersonID int64
}

// benchUserCount is how many users the quote and order runs share: their
// routes allow 30 requests a minute per user.
const benchUserCount = 3000

// benchUsers seeds the users once per run (verified when the build has an
// identity store; see persons.go) and returns them.
func benchUsers(ctx context.Context, b *bench, rep *report, db *benchDB, rdb *redis.Client) ([]benchUser, error) {
	if rep.users != nil {
		return rep.users, nil
	}
	b.logf("seeding %d users with sessions", benchUserCount)
	persons, err := seedPersons(ctx, b, db, benchUserCount)
	if err != nil {
		return nil, err
	}
	us, err := seedUsers(ctx, db, rdb, benchUserCount, func(i int) int64 {
		if persons == nil {
			return 0
		}
		return persons[i]
	})
	if err != nil {
		return nil, err
	}
	for i := range us {
		if persons != nil {
			us[i].PersonID = persons[i]
		}
	}
	rep.users = us
	return us, nil
}

// seedUsers inserts n users (openid obench-user-<i>, person_id = personID(i)
// or 0) with multi-row INSERTs and creates a session for each in Redis
// through cache.SessionStore, as login would.
func seedUsers(ctx context.Context, db *benchDB, rdb *redis.Client, n int, personID func(i int) int64) ([]benchUser, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	const chunk = 1000
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		var b strings.Builder
		var args []any
		b.WriteString("INSERT INTO users (open_id,union_id,care_mode,person_id,created_at,updated_at) VALUES ")
		for i := start; i < end; i++ {
			if i > start {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?,?)")
			var pid int64
			if personID != nil {
				pid = personID(i)
			}
			args = append(args, userOpenID(i), "", false, pid, now, now)
		}
		if _, err := db.SQL.ExecContext(ctx, b.String(), args...); err != nil {
			return nil, fmt.Errorf("insert users: %w", err)
		}
	}
	rows, err := db.SQL.QueryContext(ctx, "SELECT id, open_id FROM users WHERE open_id LIKE 'obench-user-%' ORDER BY open_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	sessions := cache.NewSessionStore(rdb, service.SystemClock{})
	var us []benchUser
	for rows.Next() {
		var u benchUser
		if err := rows.Scan(&u.ID, &u.OpenID); err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// As login does (service.AuthService.Login): a verified user's session
	// is stored with the user's snapshot, read with its identity.
	mdb, err := model.Open(db.DSN, "", service.SystemClock{})
	if err != nil {
		return nil, err
	}
	defer mdb.Close()
	users := model.NewUserStore(mdb)
	for i := range us {
		su, err := users.FindUserByID(ctx, us[i].ID)
		if err != nil {
			return nil, err
		}
		if us[i].Token, err = sessions.CreateSessionFor(ctx, su, time.Now().Add(24*time.Hour)); err != nil {
			return nil, err
		}
	}
	if len(us) != n {
		return nil, fmt.Errorf("seeded %d users, found %d", n, len(us))
	}
	return us, nil
}

func userOpenID(i int) string { return fmt.Sprintf("obench-user-%08d", i) }

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shebao/sipay/model"
	"github.com/shebao/sipay/pii"
	"github.com/shebao/sipay/service"
)

// newPIIKey returns a fresh base64 32-byte PII_KEY for the server child; the
// bench encrypts seeded persons with the same key.
func newPIIKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// residentID returns a valid 18-digit resident ID number (Nanjing, born in
// the 1980s or 1990s, MOD 11-2 check digit), distinct for each i < 3.6M.
func residentID(i int) string {
	birth := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/1000)
	d := fmt.Sprintf("320102%s%03d", birth.Format("20060102"), i%1000)
	return service.CompleteResidentID(d)
}

// seedPersons stores n verified persons through model.PersonStore (names and
// ID numbers encrypted with the server's PII key) and returns their ids.
func seedPersons(ctx context.Context, b *bench, db *benchDB, n int) ([]int64, error) {
	key, err := pii.KeyFromBase64(b.piiKey)
	if err != nil {
		return nil, err
	}
	ring, err := pii.NewKeyring(key)
	if err != nil {
		return nil, err
	}
	mdb, err := model.Open(db.DSN, "", service.SystemClock{})
	if err != nil {
		return nil, err
	}
	defer mdb.Close()
	store := model.NewPersonStore(mdb, ring)
	ids := make([]int64, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var deadlocks atomic.Int64
	// Few workers, and retries: concurrent first-time EnsurePerson calls
	// deadlock on MariaDB (see docs/performance.md, findings).
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var p *service.Person
				var err error
				for attempt := 0; attempt < 10; attempt++ {
					p, err = store.EnsurePerson(ctx, service.Person{Name: fmt.Sprintf("测试%04d", i), IDType: service.IDResident,
						IDNumber: residentID(i), Phone: fmt.Sprintf("139%08d", i)})
					if err == nil {
						break
					}
					deadlocks.Add(1)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("seed person: %w", err)
					}
					mu.Unlock()
					return
				}
				ids[i] = p.ID
			}
		}()
	}
	wg.Wait()
	if k := deadlocks.Load(); k > 0 {
		b.logf("seeding persons: %d EnsurePerson calls failed and were retried (deadlocks)", k)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	// Quotes and orders need the person verified by a method the region
	// accepts: Jiangsu takes the e-card password. One verified check each.
	now := time.Now().UTC()
	for lo := 0; lo < n; lo += 500 {
		hi := min(lo+500, n)
		var q strings.Builder
		args := make([]any, 0, (hi-lo)*5)
		q.WriteString(`INSERT INTO identity_checks (public_id, user_id, region, method, purpose, platform_check_id, name_enc, id_type, id_number_enc, status, person_id, created_at, expires_at, updated_at) VALUES `)
		for i := lo; i < hi; i++ {
			if i > lo {
				q.WriteString(",")
			}
			q.WriteString(`(?, 0, 'jiangsu', ?, 'self', 'bench', 'x', 'resident_id', 'x', ?, ?, ?, ?, ?)`)
			args = append(args, fmt.Sprintf("bench-ck-%d", i), service.IdentityCardPwd, service.CheckVerified, ids[i], now)
			args = append(args, now, now)
		}
		if err := mdb.Exec(q.String(), args...).Error; err != nil {
			return nil, fmt.Errorf("seed identity checks: %w", err)
		}
	}
	return ids, nil
}

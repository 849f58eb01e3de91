// Package securitytest holds black-box security tests of the whole service:
// they boot the real App (app.New in SIMULATOR mode, on a temporary
// DATA_DIR, on SQLite or on MySQL when TEST_MYSQL_DSN is set) behind an
// httptest server and drive it over HTTP like the mini-program does.
//
// What they check:
//   - ownership: every route that reads or acts on a user's resource answers
//     404 to another user (the route list comes from the router, and a route
//     without a case fails the suite);
//   - rate limits on login, face verification and quotes (429, Retry-After,
//     the error envelope), and that X-Forwarded-For cannot reset them;
//   - the 64 KiB body limit and unknown-field refusal on every JSON route;
//   - no plaintext personal data in any table or log line after full flows.
//
// The package has no non-test code besides this comment.
package securitytest

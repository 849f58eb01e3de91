// Command server runs the social-insurance payment backend.
//
//	server           serve HTTP (and background workers)
//	server migrate   apply the embedded database migrations and exit
//
// Configuration comes from environment variables; see README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/shebao/sipay/app"
	"github.com/shebao/sipay/redact"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		// One line, query strings dropped and clipped (an error may carry a
		// request URL).
		fmt.Fprintln(os.Stderr, "error:", strings.Join(strings.Fields(redact.String(err.Error(), nil)), " "))
		os.Exit(1)
	}
}

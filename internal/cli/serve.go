package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"caravana/internal/node"
	"caravana/internal/replication"
	"caravana/internal/web"
)

// NewServeCommand runs a node's web UI and API.
func NewServeCommand(app *App) *cobra.Command {
	var addr, cert, key string
	var sf syncFlags
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the web UI and JSON API of a node",
		Long: `Unlock the node in --data and serve it: web UI at /, JSON API under /api/v1/
(described at /api/v1/openapi.json), /healthz and /metrics.

It binds 127.0.0.1:8080 unless told otherwise. To serve other devices on a local network,
bind their interface (e.g. --addr 0.0.0.0:8080) and prefer --tls-cert/--tls-key.

Other nodes sync with it under /sync/v1/ (requests signed by their node keys). With --peer URL
it also syncs with those peers itself, every --sync-every, in the background.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			if len(sf.peers) > 0 && every < time.Second {
				return usagef("--sync-every must be at least 1s")
			}
			n, err := app.open(cmd.Context())
			if err != nil {
				return err
			}
			defer n.Close()
			ctx, cancel := context.WithCancel(cmd.Context())
			var wg sync.WaitGroup
			// Stop the background sync before the node closes (defers run last-first).
			defer wg.Wait()
			defer cancel()
			if len(sf.peers) > 0 {
				bg := &replication.Background{Client: c, URLs: sf.peers, Every: every, Log: slog.Default()}
				wg.Go(func() { bg.Run(ctx, n) })
			}
			return app.serve(ctx, n, addr, cert, key, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", envOr("CARAVANA_ADDR", "127.0.0.1:8080"), "address to listen on (env CARAVANA_ADDR)")
	cmd.Flags().StringVar(&cert, "tls-cert", "", "TLS certificate file (PEM)")
	cmd.Flags().StringVar(&key, "tls-key", "", "TLS private key file (PEM)")
	cmd.Flags().DurationVar(&every, "sync-every", 30*time.Second, "with --peer: how often to sync with the peers")
	sf.register(cmd)
	return cmd
}

// serve listens on addr until the context ends or SIGINT/SIGTERM arrives.
// ready, when set, is called with the URL once the listener is open.
func (app *App) serve(ctx context.Context, n *node.Node, addr, cert, key string, ready func(url string)) error {
	if (cert == "") != (key == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	srv, err := web.New(n, web.Options{Log: slog.Default()})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	scheme := "http"
	if cert != "" {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s/", scheme, ln.Addr())
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); cert == "" && !net.ParseIP(host).IsLoopback() {
		slog.Warn("serving plain HTTP beyond this machine: passwords and names cross the network unencrypted; use --tls-cert/--tls-key", "addr", ln.Addr().String())
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if cert != "" {
			errc <- hs.ServeTLS(ln, cert, key)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	slog.Info("serving", "url", url, "node", n.Keys.NodeID)
	if ready != nil {
		ready(url)
	} else {
		fmt.Fprintf(app.Stdout, "Serving node %s at %s (Ctrl-C to stop)\n", n.Keys.NodeID, url)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(shutdown)
}

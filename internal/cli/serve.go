package cli

import (
	"context"
	"crypto/tls"
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
bind their interface (e.g. --addr 0.0.0.0:8080) with --tls-cert and --tls-key: it refuses
plain HTTP beyond this machine, because session cookies are always Secure (browsers send
them only over HTTPS or to this machine) and passwords and names would cross the network
in the clear. Behind a TLS proxy on this machine, bind 127.0.0.1.

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
			// Listen before unlocking: a busy port or a refused address
			// is reported at once, not after the key derivation.
			ln, err := app.listen(addr, cert, key)
			if err != nil {
				return err
			}
			defer ln.Close()
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
			return app.serve(ctx, n, ln, cert, key, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", envOr("CARAVANA_ADDR", "127.0.0.1:8080"), "address to listen on (env CARAVANA_ADDR)")
	cmd.Flags().StringVar(&cert, "tls-cert", "", "TLS certificate file (PEM)")
	cmd.Flags().StringVar(&key, "tls-key", "", "TLS private key file (PEM)")
	cmd.Flags().DurationVar(&every, "sync-every", 30*time.Second, "with --peer: how often to sync with the peers")
	sf.register(cmd)
	return cmd
}

// errPlainRemote explains why plain HTTP is served only on loopback.
var errPlainRemote = errors.New("session cookies are always Secure, so browsers send them only over HTTPS or to this machine, " +
	"and passwords and names would cross the network in the clear: give --tls-cert and --tls-key, " +
	"or bind a loopback address such as 127.0.0.1 (behind a TLS proxy on this machine, if need be)")

// listen opens addr for serving. Without a certificate it must be a
// loopback address (see errPlainRemote).
func (app *App) listen(addr, cert, key string) (net.Listener, error) {
	if (cert == "") != (key == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usagef("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8080", addr)
	}
	if cert != "" {
		// Read now, so that a bad file is reported before anything else.
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			return nil, fmt.Errorf("TLS certificate: %w", err)
		}
	}
	// A literal address is checked before binding; a name (localhost) once
	// it is resolved, by the address actually bound.
	if ip := net.ParseIP(host); cert == "" && (host == "" || ip != nil && !ip.IsLoopback()) {
		return nil, usageError{fmt.Errorf("refusing to serve plain HTTP on %s, beyond this machine: %w", addr, errPlainRemote)}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); cert == "" && (!ok || !tcp.IP.IsLoopback()) {
		ln.Close()
		return nil, usageError{fmt.Errorf("refusing to serve plain HTTP on %s (%s), beyond this machine: %w", addr, ln.Addr(), errPlainRemote)}
	}
	return ln, nil
}

// serve serves n on ln until the context ends or SIGINT/SIGTERM arrives,
// and closes ln. ready, when set, is called with the URL once serving.
func (app *App) serve(ctx context.Context, n *node.Node, ln net.Listener, cert, key string, ready func(url string)) error {
	defer ln.Close()
	srv, err := web.New(n, web.Options{Log: slog.Default()})
	if err != nil {
		return err
	}
	scheme := "http"
	if cert != "" {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s/", scheme, ln.Addr())
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

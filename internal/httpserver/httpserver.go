// Package httpserver serves streamd's operational endpoints: Prometheus
// metrics, liveness and readiness. It binds loopback by default (the caller
// passes the address) and shuts down gracefully when its context ends.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamd/streamd/internal/health"
)

// DefaultStaleness is how old the last health beat may be before /healthz
// reports 503.
const DefaultStaleness = 30 * time.Second

// DefaultShutdownTimeout bounds the graceful shutdown of in-flight requests.
const DefaultShutdownTimeout = 5 * time.Second

// Server serves /metrics, /healthz, /readyz and a small index at /.
// Configure the exported fields before calling Listen or Run.
type Server struct {
	// Staleness is the maximum age of health.State's last beat for /healthz
	// to answer 200; use about 3× the main loop's beat interval.
	Staleness time.Duration
	// ShutdownTimeout bounds graceful shutdown once Run's context ends.
	ShutdownTimeout time.Duration

	addr   string
	health *health.State
	log    *slog.Logger
	srv    *http.Server

	mu sync.Mutex
	ln net.Listener
}

// New returns a Server for addr (host:port; port 0 picks a free one). It
// serves reg at /metrics and registers the Go runtime and process collectors
// on reg unless they already are. h may be nil (always alive, never ready);
// log may be nil.
func New(addr string, reg *prometheus.Registry, h *health.State, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	if reg == nil {
		reg = prometheus.NewRegistry()
	}

	registerRuntime(reg)
	registerReady(reg, h)
	s := &Server{
		Staleness:       DefaultStaleness,
		ShutdownTimeout: DefaultShutdownTimeout,
		addr:            addr,
		health:          h,
		log:             log,
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelError),
		Registry:          reg,
		EnableOpenMetrics: true,
	})))

	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", index)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	return s
}

// registerRuntime adds the Go and process collectors to reg, keeping any the
// caller registered already.
func registerRuntime(reg *prometheus.Registry) {
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		var are prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &are) {
			panic(fmt.Sprintf("register runtime collector: %v", err)) // only on conflicting descriptors: a programming error
		}
	}
}

// registerReady adds streamd_ready, 1 while /readyz would answer 200 (every
// topic session and sink ready), unless reg has it already.
func registerReady(reg *prometheus.Registry, h *health.State) {
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "streamd_ready",
		Help: "1 while every topic session and sink is ready (/readyz answers 200), else 0.",
	}, func() float64 {
		if ready, _ := h.Ready(); ready {
			return 1
		}
		return 0
	})

	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(g); err != nil && !errors.As(err, &are) {
		panic(fmt.Sprintf("register streamd_ready: %v", err)) // only on conflicting descriptors: a programming error
	}
}

// Listen binds the address. Calling it before Run lets a caller fail fast
// (e.g. port in use) before announcing readiness; Run calls it if needed.
func (s *Server) Listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.ln != nil {
		return nil
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.addr, err)
	}

	s.ln = ln

	return nil
}

// Addr returns the bound address (useful with port 0), or "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Run listens (unless Listen was called) and serves until ctx is done, then
// shuts down gracefully within ShutdownTimeout. It returns listen and serve
// errors; after a clean shutdown it returns nil. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(ctx); err != nil {
		return err
	}

	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	s.log.Info("http server listening", "addr", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if err != nil {
		s.srv.Close()
		err = fmt.Errorf("shut down http server: %w", err)
	}

	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("serve http: %w", serr)
	}

	return err
}

func index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "streamd\n\n"+
		"/metrics  Prometheus metrics\n"+
		"/healthz  liveness: 200 while the main loop and every connected topic make progress\n"+
		"/readyz   readiness: 200 when every topic session and sink is ready, else 503 with JSON details\n")
}

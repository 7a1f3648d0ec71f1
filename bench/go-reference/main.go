// Command go-reference is the go-control-plane (v0.14) reference xDS server of the fleet benchmark.
//
// It serves ADS (SotW and delta) from a SnapshotCache in ADS mode. With -keying node (the default) the cache
// is keyed by node id (cache.IDHash) and each update sets one snapshot under every node id envoy-00000 … of
// -nodes, as applications do; with -keying fleet every node maps to one cache key ("fleet"). Our server is run
// the same way. Resources are generated deterministically (see resources.go and bench/fleet/README.md for
// their exact shapes).
//
// Protocol with the orchestrator (one JSON object per line):
//
//	stdout, first line:  {"listening":PORT}
//	stdin:  {"op":"prepare","version":"2","clusters":1000,"listeners":1,"endpoints":3,"change":"none"|"one-endpoint"|"all"}
//	        builds the resources of the next snapshot (harness work, not measured)
//	stdin:  {"op":"set","version":"2"}
//	        cache.NewSnapshot + cache.SetSnapshot of the prepared resources (the measured part); the answer
//	        carries t0 (wall clock, Unix ms) taken just before NewSnapshot
//	stdin:  {"op":"stats"}   -> {"ok":true,"streams":N,"requests":R,"responses":S}
//	        with "gc":true, garbage is collected and freed memory returned to the OS first
//	stdin:  {"op":"quit"}    -> exits
//
// With -dump none,one-endpoint,all it prints, for each change applied in turn, one line
// {"change":C,"clusters":[...],"endpoints":[...],"listeners":[...],"routes":[...]} of ProtoJSON resources
// (proto field names) and exits; bench/fleet compares it with bench/fleet/resources.ts.
//
// Every answer is a JSON line with "ok" and "op". The server listens on loopback only.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/encoding/protojson"
)

// The gRPC settings of go-control-plane's example management server (internal/example/server.go).
const (
	grpcKeepaliveTime        = 30 * time.Second
	grpcKeepaliveTimeout     = 5 * time.Second
	grpcKeepaliveMinTime     = 30 * time.Second
	grpcMaxConcurrentStreams = 1000000
)

// fleetKey is the one cache key every node maps to.
const fleetKey = "fleet"

// fleetHash maps every node to fleetKey: one snapshot shared by all nodes.
type fleetHash struct{}

func (fleetHash) ID(*core.Node) string { return fleetKey }

type command struct {
	Op        string `json:"op"`
	Version   string `json:"version"`
	Clusters  int    `json:"clusters"`
	Listeners int    `json:"listeners"`
	Endpoints int    `json:"endpoints"`
	Change    string `json:"change"`
	GC        bool   `json:"gc"`
}

type counters struct {
	streams   atomic.Int64
	requests  atomic.Int64
	responses atomic.Int64
}

func main() {
	port := flag.Int("port", 0, "loopback port to listen on (0: any free port)")
	clusters := flag.Int("clusters", 100, "clusters (and endpoint assignments) of the initial snapshot")
	listeners := flag.Int("listeners", 1, "listeners (and route configurations) of the initial snapshot")
	endpoints := flag.Int("endpoints", 3, "endpoints per assignment")
	version := flag.String("version", "1", "version of the initial snapshot")
	nodes := flag.Int("nodes", 0, "node ids envoy-00000 … that get the snapshot (with -keying node)")
	keying := flag.String("keying", "node", "node: a snapshot per node id; fleet: one snapshot every node maps to")
	dump := flag.String("dump", "", "print the resources (ProtoJSON, one line per change) after each of these comma-separated changes, and exit")
	flag.Parse()

	if *dump != "" {
		if err := dumpResources(shape{clusters: *clusters, listeners: *listeners, endpoints: *endpoints}, strings.Split(*dump, ",")); err != nil {
			fail(err)
		}
		return
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var snapshots cache.SnapshotCache
	var keys []string
	switch *keying {
	case "node":
		snapshots = cache.NewSnapshotCache(true, cache.IDHash{}, nil)
		for i := 0; i < *nodes; i++ {
			keys = append(keys, fmt.Sprintf("envoy-%05d", i))
		}
	case "fleet":
		snapshots = cache.NewSnapshotCache(true, fleetHash{}, nil)
		keys = []string{fleetKey}
	default:
		fail(fmt.Errorf("-keying: %q is not node or fleet", *keying))
	}
	stats := &counters{}
	callbacks := server.CallbackFuncs{
		StreamOpenFunc: func(context.Context, int64, string) error {
			stats.streams.Add(1)
			return nil
		},
		StreamClosedFunc: func(int64, *core.Node) { stats.streams.Add(-1) },
		DeltaStreamOpenFunc: func(context.Context, int64, string) error {
			stats.streams.Add(1)
			return nil
		},
		DeltaStreamClosedFunc: func(int64, *core.Node) { stats.streams.Add(-1) },
		StreamRequestFunc: func(int64, *discovery.DiscoveryRequest) error {
			stats.requests.Add(1)
			return nil
		},
		StreamResponseFunc: func(context.Context, int64, *discovery.DiscoveryRequest, *discovery.DiscoveryResponse) {
			stats.responses.Add(1)
		},
		StreamDeltaRequestFunc: func(int64, *discovery.DeltaDiscoveryRequest) error {
			stats.requests.Add(1)
			return nil
		},
		StreamDeltaResponseFunc: func(int64, *discovery.DeltaDiscoveryRequest, *discovery.DeltaDiscoveryResponse) {
			stats.responses.Add(1)
		},
	}
	xds := server.NewServer(ctx, snapshots, callbacks)

	gen := newGenerator()
	initial := gen.build(shape{clusters: *clusters, listeners: *listeners, endpoints: *endpoints}, "none")
	if err := setSnapshot(ctx, snapshots, keys, *version, initial); err != nil {
		fail(err)
	}

	grpcServer := grpc.NewServer(
		grpc.MaxConcurrentStreams(grpcMaxConcurrentStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: grpcKeepaliveTime, Timeout: grpcKeepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: grpcKeepaliveMinTime, PermitWithoutStream: true}),
	)
	discovery.RegisterAggregatedDiscoveryServiceServer(grpcServer, xds)

	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fail(err)
	}
	out := &writer{enc: json.NewEncoder(os.Stdout)}
	out.write(map[string]any{"listening": lis.Addr().(*net.TCPAddr).Port})

	go func() {
		if err := grpcServer.Serve(lis); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
		}
	}()

	var prepared map[resourcev3.Type][]types.Resource
	preparedVersion := ""
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1024*1024)
	for in.Scan() {
		var cmd command
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			out.write(map[string]any{"ok": false, "error": err.Error()})
			continue
		}
		switch cmd.Op {
		case "prepare":
			started := time.Now()
			s := shape{clusters: cmd.Clusters, listeners: cmd.Listeners, endpoints: cmd.Endpoints}
			if s.listeners <= 0 {
				s.listeners = 1
			}
			if s.endpoints <= 0 {
				s.endpoints = 3
			}
			prepared = gen.build(s, cmd.Change)
			preparedVersion = cmd.Version
			out.write(map[string]any{"ok": true, "op": "prepare", "version": cmd.Version, "ms": msSince(started)})
		case "set":
			if prepared == nil || cmd.Version != preparedVersion {
				out.write(map[string]any{"ok": false, "op": "set", "error": "version " + cmd.Version + " was not prepared"})
				continue
			}
			t0 := unixMs(time.Now())
			started := time.Now()
			if err := setSnapshot(ctx, snapshots, keys, cmd.Version, prepared); err != nil {
				out.write(map[string]any{"ok": false, "op": "set", "error": err.Error()})
				continue
			}
			prepared = nil
			out.write(map[string]any{"ok": true, "op": "set", "version": cmd.Version, "t0": t0, "ms": msSince(started)})
		case "stats":
			if cmd.GC {
				// Garbage collected and returned to the OS before a memory reading, as the Node server does.
				runtime.GC()
				debug.FreeOSMemory()
			}
			out.write(map[string]any{
				"ok": true, "op": "stats",
				"streams":   stats.streams.Load(),
				"requests":  stats.requests.Load(),
				"responses": stats.responses.Load(),
			})
		case "quit":
			out.write(map[string]any{"ok": true, "op": "quit"})
			grpcServer.Stop()
			return
		default:
			out.write(map[string]any{"ok": false, "op": cmd.Op, "error": "unknown op"})
		}
	}
	// stdin closed: the orchestrator is gone.
	grpcServer.Stop()
}

// setSnapshot makes one snapshot and sets it under every key.
func setSnapshot(ctx context.Context, c cache.SnapshotCache, keys []string, version string, resources map[resourcev3.Type][]types.Resource) error {
	snapshot, err := cache.NewSnapshot(version, resources)
	if err != nil {
		return err
	}
	if err := snapshot.Consistent(); err != nil {
		return err
	}
	for _, key := range keys {
		if err := c.SetSnapshot(ctx, key, snapshot); err != nil {
			return err
		}
	}
	return nil
}

type writer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *writer) write(v any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.enc.Encode(v)
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

func unixMs(t time.Time) float64 { return float64(t.UnixMicro()) / 1000 }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "go-reference:", err)
	os.Exit(1)
}

func dumpResources(s shape, changes []string) error {
	gen := newGenerator()
	marshal := protojson.MarshalOptions{UseProtoNames: true}
	out := json.NewEncoder(os.Stdout)
	for _, change := range changes {
		resources := gen.build(s, change)
		line := map[string]any{"change": change}
		for key, typ := range map[string]resourcev3.Type{
			"clusters": resourcev3.ClusterType, "endpoints": resourcev3.EndpointType,
			"listeners": resourcev3.ListenerType, "routes": resourcev3.RouteType,
		} {
			list := make([]json.RawMessage, 0, len(resources[typ]))
			for _, r := range resources[typ] {
				b, err := marshal.Marshal(r)
				if err != nil {
					return err
				}
				list = append(list, json.RawMessage(b))
			}
			line[key] = list
		}
		if err := out.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"fmt"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// shape is the size of a snapshot.
type shape struct {
	clusters  int
	listeners int
	endpoints int
}

// generator builds the benchmark's resources. Its only state is one revision counter per cluster for the
// Cluster and one for the ClusterLoadAssignment; bench/fleet/resources.ts keeps the same state and must
// produce the same messages.
type generator struct {
	clusterRev  []int
	endpointRev []int
}

func newGenerator() *generator { return &generator{} }

// build applies change ("none", "one-endpoint": the assignment of cluster 0 changes, "all": every Cluster
// and every ClusterLoadAssignment changes) and returns all resources of the snapshot.
func (g *generator) build(s shape, change string) map[resourcev3.Type][]types.Resource {
	for len(g.clusterRev) < s.clusters {
		g.clusterRev = append(g.clusterRev, 0)
		g.endpointRev = append(g.endpointRev, 0)
	}
	switch change {
	case "one-endpoint":
		if s.clusters > 0 {
			g.endpointRev[0]++
		}
	case "all":
		for i := 0; i < s.clusters; i++ {
			g.clusterRev[i]++
			g.endpointRev[i]++
		}
	}
	clusters := make([]types.Resource, 0, s.clusters)
	assignments := make([]types.Resource, 0, s.clusters)
	for i := 0; i < s.clusters; i++ {
		clusters = append(clusters, makeCluster(i, g.clusterRev[i]))
		assignments = append(assignments, makeAssignment(i, s.endpoints, g.endpointRev[i]))
	}
	listeners := make([]types.Resource, 0, s.listeners)
	routes := make([]types.Resource, 0, s.listeners)
	for l := 0; l < s.listeners; l++ {
		listeners = append(listeners, makeListener(l))
		routes = append(routes, makeRoute(l, s.clusters))
	}
	return map[resourcev3.Type][]types.Resource{
		resourcev3.ClusterType:  clusters,
		resourcev3.EndpointType: assignments,
		resourcev3.ListenerType: listeners,
		resourcev3.RouteType:    routes,
	}
}

func clusterName(i int) string { return fmt.Sprintf("cluster-%05d", i) }

func adsSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

func makeCluster(i, rev int) *cluster.Cluster {
	name := clusterName(i)
	meta, err := structpb.NewStruct(map[string]any{
		"index":    float64(i),
		"revision": float64(rev),
		"team":     fmt.Sprintf("team-%d", i%10),
	})
	if err != nil {
		panic(err)
	}
	return &cluster.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource()},
		ConnectTimeout:       durationpb.New(time.Second),
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
		CircuitBreakers: &cluster.CircuitBreakers{
			Thresholds: []*cluster.CircuitBreakers_Thresholds{{
				Priority:           core.RoutingPriority_DEFAULT,
				MaxConnections:     wrapperspb.UInt32(1024),
				MaxPendingRequests: wrapperspb.UInt32(1024),
				MaxRequests:        wrapperspb.UInt32(1024),
				MaxRetries:         wrapperspb.UInt32(3),
			}},
		},
		OutlierDetection: &cluster.OutlierDetection{
			Consecutive_5Xx:    wrapperspb.UInt32(5),
			Interval:           durationpb.New(10 * time.Second),
			BaseEjectionTime:   durationpb.New(30 * time.Second),
			MaxEjectionPercent: wrapperspb.UInt32(10),
		},
		HealthChecks: []*core.HealthCheck{{
			Timeout:            durationpb.New(time.Second),
			Interval:           durationpb.New(5 * time.Second),
			UnhealthyThreshold: wrapperspb.UInt32(3),
			HealthyThreshold:   wrapperspb.UInt32(2),
			HealthChecker: &core.HealthCheck_HttpHealthCheck_{HttpHealthCheck: &core.HealthCheck_HttpHealthCheck{
				Path: "/healthz",
			}},
		}},
		TransportSocket: &core.TransportSocket{
			Name: "envoy.transport_sockets.tls",
			ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(&tls.UpstreamTlsContext{
				Sni:              name + ".svc.bench.local",
				CommonTlsContext: &tls.CommonTlsContext{AlpnProtocols: []string{"h2", "http/1.1"}},
			})},
		},
		Metadata: &core.Metadata{FilterMetadata: map[string]*structpb.Struct{"bench": meta}},
	}
}

func makeAssignment(i, endpoints, rev int) *endpoint.ClusterLoadAssignment {
	lbEndpoints := make([]*endpoint.LbEndpoint, 0, endpoints)
	for j := 0; j < endpoints; j++ {
		k := i*endpoints + j
		lbEndpoints = append(lbEndpoints, &endpoint.LbEndpoint{
			HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
				Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
					Address:       fmt.Sprintf("127.1.%d.%d", (k/250)%250, k%250+1),
					PortSpecifier: &core.SocketAddress_PortValue{PortValue: uint32(10000 + j + 10*(rev%5000))},
				}}},
			}},
			LoadBalancingWeight: wrapperspb.UInt32(1),
		})
	}
	return &endpoint.ClusterLoadAssignment{
		ClusterName: clusterName(i),
		Endpoints: []*endpoint.LocalityLbEndpoints{{
			Locality:    &core.Locality{Region: "bench", Zone: fmt.Sprintf("zone-%d", i%3)},
			LbEndpoints: lbEndpoints,
		}},
	}
}

func makeListener(l int) *listener.Listener {
	manager := &hcm.HttpConnectionManager{
		CodecType:  hcm.HttpConnectionManager_AUTO,
		StatPrefix: "ingress_http",
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			ConfigSource:    adsSource(),
			RouteConfigName: fmt.Sprintf("route-%d", l),
		}},
		HttpFilters: []*hcm.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: mustAny(&router.Router{})},
		}},
	}
	return &listener.Listener{
		Name: fmt.Sprintf("listener-%d", l),
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address:       "127.0.0.1",
			PortSpecifier: &core.SocketAddress_PortValue{PortValue: uint32(10000 + l)},
		}}},
		FilterChains: []*listener.FilterChain{{
			Filters: []*listener.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listener.Filter_TypedConfig{TypedConfig: mustAny(manager)},
			}},
		}},
	}
}

func makeRoute(l, clusters int) *route.RouteConfiguration {
	routes := make([]*route.Route, 0, clusters)
	for i := 0; i < clusters; i++ {
		name := clusterName(i)
		routes = append(routes, &route.Route{
			Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/" + name + "/"}},
			Action: &route.Route_Route{Route: &route.RouteAction{
				ClusterSpecifier: &route.RouteAction_Cluster{Cluster: name},
			}},
		})
	}
	return &route.RouteConfiguration{
		Name: fmt.Sprintf("route-%d", l),
		VirtualHosts: []*route.VirtualHost{{
			Name:    "all",
			Domains: []string{"*"},
			Routes:  routes,
		}},
	}
}

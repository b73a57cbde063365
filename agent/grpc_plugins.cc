// The gRPC plug-ins vigil-agent registers: what one client channel to a `host:port`,
// `ipv4:`, `ipv6:` or `unix:` target needs, with or without TLS, through an HTTP CONNECT
// proxy if the environment names one. Linked into vigil-agent only, and only when it links
// gRPC's static archive (cmake/StaticDeps.cmake).
//
// Why: gRPC's default BuildCoreConfiguration (src/core/plugin_registry/grpc_plugin_registry.cc)
// registers every resolver, load-balancing policy and filter it has: xDS, RLS, grpclb, ring
// hash, outlier detection, RBAC, fault injection, Google default credentials. Registering them
// touches their code and data at start, about 0.8 MiB of the agent's resident memory, and
// linking them costs 2 MB of binary. Defining the function here keeps the linker from taking
// gRPC's definition (and everything only it references) out of libgrpc.a.
//
// The names are gRPC's internal ones (no public header declares them), so this is tied to one
// gRPC version: with any other, this file compiles to nothing and gRPC's full registry is used.
// A name gRPC renames fails the link. After an upgrade, compare the list with that version's
// grpc_plugin_registry.cc. Left out on purpose: the xDS family, rls, grpclb, priority,
// weighted_target, ring_hash, outlier_detection, the fake resolver (tests), fault injection,
// RBAC, file-watcher certificates and Google default credentials; a service config from DNS
// that asks for one of those policies fails the channel with "unknown LB policy".
#include <grpcpp/version_info.h>

#if GRPC_CPP_VERSION_MAJOR == 1 && GRPC_CPP_VERSION_MINOR == 51

namespace grpc_core {

// Only the name is needed, for the functions' mangled names; gRPC defines the class.
class CoreConfiguration {
 public:
  class Builder;
};

void BuildClientChannelConfiguration(CoreConfiguration::Builder* builder);
void RegisterAresDnsResolver(CoreConfiguration::Builder* builder);
void RegisterBuiltins(CoreConfiguration::Builder* builder);
void RegisterChannelIdleFilters(CoreConfiguration::Builder* builder);
void RegisterClientAuthorityFilter(CoreConfiguration::Builder* builder);
void RegisterDeadlineFilter(CoreConfiguration::Builder* builder);
void RegisterHttpConnectHandshaker(CoreConfiguration::Builder* builder);
void RegisterHttpFilters(CoreConfiguration::Builder* builder);
void RegisterHttpProxyMapper(CoreConfiguration::Builder* builder);
void RegisterMessageSizeFilter(CoreConfiguration::Builder* builder);
void RegisterNativeDnsResolver(CoreConfiguration::Builder* builder);
void RegisterPickFirstLbPolicy(CoreConfiguration::Builder* builder);
void RegisterResourceQuota(CoreConfiguration::Builder* builder);
void RegisterRoundRobinLbPolicy(CoreConfiguration::Builder* builder);
void RegisterSecurityFilters(CoreConfiguration::Builder* builder);
void RegisterServiceConfigChannelArgFilter(CoreConfiguration::Builder* builder);
void RegisterSockaddrResolver(CoreConfiguration::Builder* builder);
void RegisterTCPConnectHandshaker(CoreConfiguration::Builder* builder);
void SecurityRegisterHandshakerFactories(CoreConfiguration::Builder* builder);

void BuildCoreConfiguration(CoreConfiguration::Builder* builder);

}  // namespace grpc_core

namespace grpc_event_engine::experimental {
void RegisterEventEngineChannelArgPreconditioning(grpc_core::CoreConfiguration::Builder* builder);
}  // namespace grpc_event_engine::experimental

namespace grpc_core {

// gRPC 1.51.1's order, without the plug-ins listed at the top of this file.
void BuildCoreConfiguration(CoreConfiguration::Builder* builder) {
  grpc_event_engine::experimental::RegisterEventEngineChannelArgPreconditioning(builder);
  RegisterHttpConnectHandshaker(builder);
  RegisterTCPConnectHandshaker(builder);
  RegisterPickFirstLbPolicy(builder);
  RegisterRoundRobinLbPolicy(builder);
  BuildClientChannelConfiguration(builder);
  SecurityRegisterHandshakerFactories(builder);
  RegisterClientAuthorityFilter(builder);
  RegisterChannelIdleFilters(builder);
  RegisterHttpFilters(builder);
  RegisterDeadlineFilter(builder);
  RegisterMessageSizeFilter(builder);
  RegisterServiceConfigChannelArgFilter(builder);
  RegisterResourceQuota(builder);
  RegisterAresDnsResolver(builder);
  RegisterNativeDnsResolver(builder);
  RegisterSockaddrResolver(builder);
  RegisterHttpProxyMapper(builder);
  RegisterSecurityFilters(builder);
  RegisterBuiltins(builder);
}

}  // namespace grpc_core

#endif  // gRPC 1.51

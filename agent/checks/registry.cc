#include "agent/checks/registry.h"

#include "agent/checks/haproxy/haproxy_check.h"
#include "agent/checks/http/http_check.h"
#include "agent/checks/kafka/kafka_check.h"
#include "agent/checks/nginx/nginx_check.h"
#include "agent/checks/openvpn/openvpn_check.h"
#include "agent/checks/postgres/postgres_check.h"
#include "agent/checks/process/process_check.h"
#include "agent/checks/rabbitmq/rabbitmq_check.h"
#include "agent/checks/redis/redis_check.h"
#include "agent/checks/strongswan/strongswan_check.h"
#include "agent/checks/system/system_check.h"
#include "agent/checks/tcp/tcp_check.h"

namespace vigil::agent {

std::unique_ptr<Check> NewCheck(absl::string_view type) {
  if (type == "haproxy") return std::make_unique<HaproxyCheck>();
  if (type == "http") return std::make_unique<HttpCheck>();
  if (type == "kafka") return std::make_unique<KafkaCheck>();
  if (type == "nginx") return std::make_unique<NginxCheck>();
  if (type == "openvpn") return std::make_unique<OpenVpnCheck>();
  if (type == "postgres") return std::make_unique<PostgresCheck>();
  if (type == "process") return std::make_unique<ProcessCheck>();
  if (type == "rabbitmq") return std::make_unique<RabbitmqCheck>();
  if (type == "redis") return std::make_unique<RedisCheck>();
  if (type == "strongswan") return std::make_unique<StrongswanCheck>();
  if (type == "system") return std::make_unique<SystemCheck>();
  if (type == "tcp") return std::make_unique<TcpCheck>();
  return nullptr;
}

std::vector<std::string> CheckTypes() {
  return {"haproxy", "http",     "kafka", "nginx",      "openvpn", "postgres",
          "process", "rabbitmq", "redis", "strongswan", "system",  "tcp"};
}

}  // namespace vigil::agent

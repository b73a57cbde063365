#include "agent/checks/registry.h"

#include "agent/checks/haproxy/haproxy_check.h"
#include "agent/checks/http/http_check.h"
#include "agent/checks/kafka/kafka_check.h"
#include "agent/checks/nginx/nginx_check.h"
#include "agent/checks/postgres/postgres_check.h"
#include "agent/checks/process/process_check.h"
#include "agent/checks/rabbitmq/rabbitmq_check.h"
#include "agent/checks/redis/redis_check.h"
#include "agent/checks/system/system_check.h"

namespace vigil::agent {

std::unique_ptr<Check> NewCheck(absl::string_view type) {
  if (type == "haproxy") return std::make_unique<HaproxyCheck>();
  if (type == "http") return std::make_unique<HttpCheck>();
  if (type == "kafka") return std::make_unique<KafkaCheck>();
  if (type == "nginx") return std::make_unique<NginxCheck>();
  if (type == "postgres") return std::make_unique<PostgresCheck>();
  if (type == "process") return std::make_unique<ProcessCheck>();
  if (type == "rabbitmq") return std::make_unique<RabbitmqCheck>();
  if (type == "redis") return std::make_unique<RedisCheck>();
  if (type == "system") return std::make_unique<SystemCheck>();
  return nullptr;
}

std::vector<std::string> CheckTypes() {
  return {"haproxy", "http",     "kafka", "nginx", "postgres",
          "process", "rabbitmq", "redis", "system"};
}

}  // namespace vigil::agent

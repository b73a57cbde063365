#ifndef VIGIL_ALERTING_NOTIFY_SQLITE_NOTIFICATION_STORE_H_
#define VIGIL_ALERTING_NOTIFY_SQLITE_NOTIFICATION_STORE_H_

// Compatibility only, until collector/alarms/alert_delivery.{h,cc} and dispatcher_test.cc use
// the collector's StateStore (collector/state/open_state_store.h); then this file goes. The
// embedded store is collector::SqliteStateStore (collector/state/sqlite_state_store.h, library
// vigil::state), a NotificationStore among its facets.
#include "collector/state/sqlite_state_store.h"

namespace vigil::alerting {
using SqliteNotificationStore = ::vigil::collector::SqliteStateStore;
}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_SQLITE_NOTIFICATION_STORE_H_

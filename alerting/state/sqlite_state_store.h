#ifndef VIGIL_ALERTING_STATE_SQLITE_STATE_STORE_H_
#define VIGIL_ALERTING_STATE_SQLITE_STATE_STORE_H_

// Compatibility only, until collector/alarms/evaluator.cc opens its store with OpenStateStore
// (collector/state/open_state_store.h); then this file goes. The embedded store is
// collector::SqliteStateStore (collector/state/sqlite_state_store.h, library vigil::state), an
// AlarmStore among its facets.
#include "collector/state/sqlite_state_store.h"

namespace vigil::alerting {
using SqliteStateStore = ::vigil::collector::SqliteStateStore;
}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_STATE_SQLITE_STATE_STORE_H_

#include "alerting/eval/window.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"

namespace vigil::alerting {
namespace {

// How a missing period that was chosen as one of the N evaluated datapoints is shown.
enum class FillNote { kNone, kBreaching, kNotBreaching };

// One of the N datapoints a decision evaluates: a real period or a filled missing one.
struct Slot {
  int64_t start_ms = 0;
  std::optional<double> value;
};

absl::string_view Plural(int count, absl::string_view one, absl::string_view many) {
  return count == 1 ? one : many;
}

// FormatNumber's text appended to `out`.
void AppendNumber(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "Infinity" : "-Infinity");
    return;
  }
  char buf[400];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  out->append(buf, r.ptr);
  if (std::find(buf, r.ptr, '.') == r.ptr) out->append(".0");
}

// "HH:MM" in UTC (with ":SS" unless the period is whole minutes). UTC has no offsets or
// leap seconds in Unix time, so the time of day is arithmetic; absl::FormatTime costs more than
// the rest of a reason together, and a fleet-wide incident explains 100,000 transitions at once.
void AppendTime(int64_t start_ms, int64_t period_ms, std::string* out) {
  int64_t seconds = start_ms / 1000;
  if (start_ms % 1000 < 0) --seconds;  // floor for times before the epoch
  int64_t of_day = seconds % 86400;
  if (of_day < 0) of_day += 86400;
  const auto two = [out](int64_t v) {
    out->push_back(static_cast<char>('0' + v / 10));
    out->push_back(static_cast<char>('0' + v % 10));
  };
  two(of_day / 3600);
  out->push_back(':');
  two(of_day / 60 % 60);
  if (period_ms % 60000 != 0) {
    out->push_back(':');
    two(of_day % 60);
  }
}

// "[82.1 (12:01), - (12:02, missing)]" appended to `out`.
void AppendSlots(absl::Span<const Slot> slots, int64_t period_ms, FillNote note,
                 std::string* out) {
  out->push_back('[');
  bool first = true;
  for (const Slot& s : slots) {
    if (!first) out->append(", ");
    first = false;
    if (s.value.has_value()) {
      AppendNumber(*s.value, out);
      out->append(" (");
    } else {
      out->append("- (");
    }
    AppendTime(s.start_ms, period_ms, out);
    if (!s.value.has_value()) {
      switch (note) {
        case FillNote::kBreaching:
          out->append(", missing, treated as breaching");
          break;
        case FillNote::kNotBreaching:
          out->append(", missing, treated as not breaching");
          break;
        case FillNote::kNone:
          out->append(", missing");
          break;
      }
    }
    out->push_back(')');
  }
  out->push_back(']');
}

}  // namespace

std::string FormatNumber(double v) {
  // Shortest representation that reads back as the same double, in fixed notation (no exponent),
  // with at least one decimal: 70 -> "70.0", 82.1 -> "82.1", 0.25 -> "0.25".
  std::string s;
  AppendNumber(v, &s);
  return s;
}

int EvaluationRange(const WindowParams& p) { return std::max(1, p.evaluation_periods) + 2; }

Decision Decide(const WindowParams& p, absl::Span<const PeriodValue> recent, AlarmState current,
                bool explain) {
  const int n = std::max(1, p.evaluation_periods);
  const int m = std::clamp(p.datapoints_to_alarm, 1, n);
  const int range = EvaluationRange(p);
  const int64_t period_ms = p.period_ms > 0 ? p.period_ms : 60000;
  const bool ignore = p.treat_missing_data == MissingData::kIgnore;

  Decision d;
  if (recent.empty()) {
    d.state = ignore ? current : AlarmState::kInsufficientData;
    d.reason =
        ignore ? absl::StrCat("Missing data ignored: no period has closed yet; the state stays ",
                              StateName(current), ".")
               : "Insufficient Data: no period has closed yet.";
    return d;
  }

  // The evaluation range, oldest first; periods before the first one known are missing.
  const size_t take = std::min(recent.size(), static_cast<size_t>(range));
  const size_t pad = static_cast<size_t>(range) - take;
  const absl::Span<const PeriodValue> known = recent.subspan(recent.size() - take);
  // Inline storage: a decision allocates nothing unless it explains itself (N <= 14).
  absl::InlinedVector<Slot, 16> window(range);
  for (size_t i = 0; i < pad; ++i) {
    window[i].start_ms = known.front().start_ms - static_cast<int64_t>(pad - i) * period_ms;
  }
  for (size_t i = 0; i < take; ++i) window[pad + i] = {known[i].start_ms, known[i].value};

  // Hysteresis: while in ALARM, a datapoint breaches unless it is past the recovery threshold.
  const bool recovering = current == AlarmState::kAlarm && p.recovery_threshold.has_value();
  const double limit = recovering ? *p.recovery_threshold : p.threshold;
  // The reason texts are built only when asked for (explain): formatting dominates the cost of
  // a decision, and most decisions change nothing.
  // Appended to the reason being built: "greater than the threshold (70.0)".
  auto against = [&](std::string* out) {
    absl::StrAppend(out, ComparisonWords(p.comparison),
                    recovering ? " the recovery threshold (" : " the threshold (");
    AppendNumber(limit, out);
    out->push_back(')');
  };

  // The N datapoints evaluated: the N most recent real ones when there are enough, otherwise
  // every real one plus as few missing periods as needed, the most recent missing ones first.
  int real = 0;
  for (const Slot& s : window) real += s.value.has_value() ? 1 : 0;
  absl::InlinedVector<bool, 16> chosen(range, false);
  int need_real = std::min(real, n);
  int need_missing = n - need_real;
  for (int i = range - 1; i >= 0; --i) {
    if (window[i].value.has_value() && need_real > 0) {
      chosen[i] = true;
      --need_real;
    } else if (!window[i].value.has_value() && need_missing > 0) {
      chosen[i] = true;
      --need_missing;
    }
  }
  absl::InlinedVector<Slot, 16> slots;
  for (int i = 0; i < range; ++i) {
    if (chosen[i]) slots.push_back(window[i]);
  }
  if (explain) {
    d.datapoints.reserve(slots.size());
    for (const Slot& s : slots) d.datapoints.push_back(PeriodValue{s.start_ms, s.value});
    d.reason.reserve(64 + 24 * slots.size());
  }

  const int filled = n - std::min(real, n);
  int breaching = 0;
  int within = 0;
  for (const Slot& s : slots) {
    if (!s.value.has_value()) continue;
    if (Breaches(p.comparison, *s.value, limit)) {
      ++breaching;
    } else {
      ++within;
    }
  }

  FillNote note = FillNote::kNone;
  if (filled > 0 && p.treat_missing_data == MissingData::kBreaching) {
    note = FillNote::kBreaching;
    breaching += filled;
  } else if (filled > 0 && p.treat_missing_data == MissingData::kNotBreaching) {
    note = FillNote::kNotBreaching;
  }
  // "<count> out of the last N datapoints [...] was|were " appended to d.reason.
  auto counted = [&](int count) {
    absl::StrAppend(&d.reason, count, " out of the last ", n, " datapoints ");
    AppendSlots(slots, period_ms, note, &d.reason);
    absl::StrAppend(&d.reason, " ", Plural(count, "was", "were"), " ");
  };
  auto alarm = [&](absl::string_view suffix) {
    d.state = AlarmState::kAlarm;
    if (!explain) return;
    d.reason.append("Threshold crossed: ");
    counted(breaching);
    against(&d.reason);
    absl::StrAppend(&d.reason, suffix, ".");
  };
  auto ok = [&] {
    d.state = AlarmState::kOk;
    if (!explain) return;
    d.reason.append("Threshold not crossed: ");
    counted(breaching);
    against(&d.reason);
    absl::StrAppend(&d.reason, " (minimum ", m, " ", Plural(m, "datapoint", "datapoints"),
                    " for ALARM).");
  };

  // Enough real datapoints, or missing ones filled as breaching / not breaching: plain M of N.
  if (filled == 0 || note != FillNote::kNone) {
    if (breaching >= m) {
      alarm("");
    } else {
      ok();
    }
    return d;
  }

  // `missing` and `ignore` with fewer than N real datapoints.
  if (real == 0) {
    d.datapoints.clear();
    if (ignore) {
      d.state = current;
      if (explain) {
        d.reason =
            absl::StrCat("Missing data ignored: ", range,
                         " datapoints were unknown; the state stays ", StateName(current), ".");
      }
    } else {
      d.state = AlarmState::kInsufficientData;
      if (explain) d.reason = absl::StrCat("Insufficient Data: ", range, " datapoints were unknown.");
    }
    return d;
  }
  if (breaching >= m) {
    alarm("");
  } else if (within > 0) {
    ok();
  } else if (!ignore && slots.front().value.has_value()) {
    // Every real datapoint breaches and the oldest evaluated one is real (the table's
    // "X - - - -" row): the data stopped after breaching.
    alarm("; missing datapoints are not considered and none was within the threshold");
  } else {
    d.state = ignore ? current : AlarmState::kInsufficientData;
    if (explain) {
      d.reason.append(ignore ? "Missing data ignored: " : "Insufficient Data: ");
      counted(filled);
      d.reason.append("unknown");
      if (ignore) absl::StrAppend(&d.reason, "; the state stays ", StateName(current));
      d.reason.push_back('.');
    }
  }
  return d;
}

namespace {

uint64_t LowBits(int count) { return count >= 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1; }

// The `count` lowest set bits of `x` (all of them when it has fewer).
uint64_t LowestSetBits(uint64_t x, int count) {
  uint64_t out = 0;
  for (; count > 0 && x != 0; --count) {
    out |= x & (~x + 1);
    x &= x - 1;
  }
  return out;
}

}  // namespace

WindowBitsDecider::WindowBitsDecider(const WindowParams& p)
    : params_(p),
      n_(std::max(1, p.evaluation_periods)),
      m_(std::clamp(p.datapoints_to_alarm, 1, n_)),
      in_range_(LowBits(EvaluationRange(p))),
      last_n_(LowBits(n_)) {}

void WindowBitsDecider::Push(WindowBits& bits, std::optional<double> value) const {
  bits.present <<= 1;
  bits.breaching <<= 1;
  bits.breaching_recovery <<= 1;
  if (!value.has_value()) return;
  bits.present |= 1;
  const bool breaches = Breaches(params_.comparison, *value, params_.threshold);
  bits.breaching |= breaches ? 1 : 0;
  if (params_.recovery_threshold.has_value()) {
    bits.breaching_recovery |=
        Breaches(params_.comparison, *value, *params_.recovery_threshold) ? 1 : 0;
  } else {
    bits.breaching_recovery |= breaches ? 1 : 0;
  }
}

// Decide's choices, on bits: the N evaluated datapoints are the most recent real ones (the
// lowest set bits of `present`) and, when there are fewer than N, the most recent missing ones.
AlarmState WindowBitsDecider::DecideWithMissing(const WindowBits& bits, AlarmState current) const {
  const bool ignore = params_.treat_missing_data == MissingData::kIgnore;
  const uint64_t present = bits.present & in_range_;
  const int real = BitCount(present);
  const uint64_t chosen_real = real <= n_ ? present : LowestSetBits(present, n_);
  const int filled = n_ - std::min(real, n_);
  const uint64_t breach =
      (current == AlarmState::kAlarm ? bits.breaching_recovery : bits.breaching) & chosen_real;
  int breaching = BitCount(breach);
  const int within = std::min(real, n_) - breaching;

  if (filled == 0 || params_.treat_missing_data == MissingData::kBreaching ||
      params_.treat_missing_data == MissingData::kNotBreaching) {
    if (params_.treat_missing_data == MissingData::kBreaching) breaching += filled;
    return breaching >= m_ ? AlarmState::kAlarm : AlarmState::kOk;
  }
  // `missing` and `ignore` with fewer than N real datapoints.
  if (real == 0) return ignore ? current : AlarmState::kInsufficientData;
  if (breaching >= m_) return AlarmState::kAlarm;
  if (within > 0) return AlarmState::kOk;
  // The oldest evaluated datapoint: the highest bit among the chosen real and filled periods.
  const uint64_t chosen = chosen_real | LowestSetBits(~present & in_range_, filled);
  const uint64_t oldest = uint64_t{1} << (63 - __builtin_clzll(chosen));
  if (!ignore && (oldest & present) != 0) return AlarmState::kAlarm;
  return ignore ? current : AlarmState::kInsufficientData;
}

}  // namespace vigil::alerting

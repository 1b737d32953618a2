#include "hpo/pbt.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace krill::hpo {

namespace {

std::string number_text(double v) {
  std::ostringstream out;
  out.precision(12);
  out << v;
  return out.str();
}

const Dimension* find_dim(const SearchSpace& space, const std::string& name) {
  for (const auto& [n, dim] : space.dimensions()) {
    if (n == name) return &dim;
  }
  return nullptr;
}

double draw_float(const FloatDim& d, Rng& rng) {
  const double u = rng.uniform();
  if (d.log) return std::exp(std::log(d.low) + u * (std::log(d.high) - std::log(d.low)));
  return d.low + u * (d.high - d.low);
}

}  // namespace

std::string conditional_evolve_problem(const SearchSpace& space, const std::string& name) {
  for (size_t i = 0; i < space.size(); ++i) {
    const auto& c = space.condition(i);
    if (!c) continue;
    const std::string& dim = space.dimensions()[i].first;
    if (dim == name) {
      return "it is conditional (if " + c->describe() +
             "), expected a dimension that every member has";
    }
    if (c->parent == name) {
      return "it is the parent of the conditional '" + dim + "', which would come and go while " +
             "members train, expected it fixed or not evolving";
    }
  }
  return "";
}

Pbt::Pbt(PbtOptions options, SearchSpace space)
    : options_(std::move(options)), space_(std::move(space)) {
  auto fail = [](const std::string& what) { throw InvalidArgument("pbt: " + what); };
  if (options_.population < 2) {
    fail("population must be >= 2, got " + std::to_string(options_.population));
  }
  if (options_.interval < 1) {
    fail("interval must be >= 1 step, got " + std::to_string(options_.interval));
  }
  if (!(options_.quantile > 0 && options_.quantile <= 0.5)) {
    fail("quantile must be in (0, 0.5], got " + number_text(options_.quantile));
  }
  if (options_.factors.empty()) fail("factors: expected at least one factor");
  for (double f : options_.factors) {
    if (!(f > 0) || !std::isfinite(f)) fail("factors: " + number_text(f) + " is not > 0");
  }
  if (!(options_.resample >= 0 && options_.resample <= 1)) {
    fail("resample must be in [0, 1], got " + number_text(options_.resample));
  }
  if (options_.evolve.empty()) fail("evolve: expected at least one hyperparameter");
  for (const std::string& name : options_.evolve) {
    const Dimension* dim = find_dim(space_, name);
    if (!dim) {
      std::string known;
      for (const auto& [n, d] : space_.dimensions()) known += (known.empty() ? "" : ", ") + n;
      fail("evolve: '" + name + "' is not a dimension of the search space (it has: " +
           (known.empty() ? "none" : known) + ")");
    }
    if (std::holds_alternative<GridDim>(*dim)) {
      fail("evolve: '" + name + "' is a grid dimension; PBT evolves floats, integers and choices");
    }
    if (const std::string why = conditional_evolve_problem(space_, name); !why.empty()) {
      fail("evolve: '" + name + "': " + why);
    }
  }
}

std::string Pbt::describe() const {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on chains of string +.
  std::string s = "pbt(population=";
  s.append(std::to_string(options_.population)).append(", interval=");
  s.append(std::to_string(options_.interval)).append(", quantile=");
  s.append(number_text(options_.quantile)).append(", factors=");
  for (size_t i = 0; i < options_.factors.size(); ++i) {
    s.append(i ? "/" : "").append(number_text(options_.factors[i]));
  }
  s.append(", resample=").append(number_text(options_.resample)).append(", evolve=");
  for (size_t i = 0; i < options_.evolve.size(); ++i) {
    s.append(i ? "/" : "").append(options_.evolve[i]);
  }
  s.append(", seed=").append(std::to_string(options_.seed)).append(")");
  return s;
}

Params Pbt::explore(const Params& params, uint64_t stream) const {
  Rng rng(Rng::derive(options_.seed, stream));
  Params out = params;
  for (const std::string& name : options_.evolve) {
    const Dimension& dim = *find_dim(space_, name);
    const bool resample = rng.uniform() < options_.resample;
    const double factor = options_.factors[rng.below(options_.factors.size())];
    const auto it = params.find(name);
    if (const auto* f = std::get_if<FloatDim>(&dim)) {
      double v = resample || it == params.end() ? draw_float(*f, rng)
                                                : as_double(it->second, name) * factor;
      out[name] = std::clamp(v, f->low, f->high);
    } else if (const auto* i = std::get_if<IntDim>(&dim)) {
      double v = resample || it == params.end()
                     ? static_cast<double>(i->low) +
                           std::floor(rng.uniform() * static_cast<double>(i->high - i->low + 1))
                     : std::round(as_double(it->second, name) * factor);
      out[name] = std::clamp(static_cast<int64_t>(v), i->low, i->high);
    } else if (const auto* c = std::get_if<CategoricalDim>(&dim)) {
      const auto n = static_cast<int64_t>(c->choices.size());
      int64_t index = -1;
      if (it != params.end()) {
        const auto found = std::find(c->choices.begin(), c->choices.end(), it->second);
        if (found != c->choices.end()) index = found - c->choices.begin();
      }
      if (resample || index < 0) {
        index = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
      } else if (n > 1) {  // a neighbour (Ray Tune's PBT shifts a list's index by one)
        const int64_t step = index == 0 ? 1 : index == n - 1 ? -1 : (rng.below(2) == 0 ? -1 : 1);
        index += step;
      }
      out[name] = c->choices[static_cast<size_t>(index)];
    }
  }
  return out;
}

std::vector<DecisionRecord> Pbt::generation(int64_t step, Direction direction,
                                            const std::vector<PbtMember>& members) const {
  // Ranked best first; NaN last; of equal values the lower number first (deterministic).
  std::vector<size_t> order(members.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto key_better = [&](size_t a, size_t b) {
    const double va = members[a].value, vb = members[b].value;
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na != nb) return nb;
    if (!na && va != vb) return direction == Direction::Maximize ? va > vb : va < vb;
    return members[a].number < members[b].number;
  };
  std::sort(order.begin(), order.end(), key_better);
  std::vector<size_t> rank(members.size());
  for (size_t r = 0; r < order.size(); ++r) rank[order[r]] = r;

  const size_t n = members.size();
  size_t q = static_cast<size_t>(std::ceil(static_cast<double>(n) * options_.quantile));
  q = std::min(q, n / 2);
  std::vector<size_t> donors;  // waiting members of the top quantile
  for (size_t r = 0; r < q; ++r) {
    if (members[order[r]].waiting) donors.push_back(order[r]);
  }

  Rng rng(Rng::derive(options_.seed, static_cast<uint64_t>(step)));
  std::vector<DecisionRecord> out;
  for (size_t i = 0; i < n; ++i) {
    const PbtMember& m = members[i];
    if (!m.waiting) continue;
    DecisionRecord d;
    d.step = step;
    const std::string standing = "pbt: rank " + std::to_string(rank[i] + 1) + " of " +
                                 std::to_string(n) + " at step " + std::to_string(step);
    const bool bottom = q > 0 && rank[i] >= n - q;
    if (bottom && !donors.empty()) {
      const size_t donor_index = donors[rng.below(donors.size())];
      const PbtMember& donor = members[donor_index];
      d.action = Action::Exploit;
      d.donor = donor.number;
      d.donor_step = step;
      d.params = explore(donor.params,
                         Rng::derive(static_cast<uint64_t>(step), static_cast<uint64_t>(m.number)));
      std::string changes;
      for (const std::string& name : options_.evolve) {
        const auto from = donor.params.find(name);
        const auto to = d.params.find(name);
        if (to == d.params.end()) continue;
        changes += (changes.empty() ? "" : ", ") + name + " " +
                   (from != donor.params.end() ? to_string(from->second) : "?") + " -> " +
                   to_string(to->second);
      }
      d.reason = standing + " (bottom " + std::to_string(q) + "): copies trial " +
                 std::to_string(donor.number) + " (rank " + std::to_string(rank[donor_index] + 1) +
                 ")" + (changes.empty() ? "" : "; " + changes);
    } else {
      d.reason = standing + (bottom ? " (bottom, no donor waiting)" : "");
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace krill::hpo

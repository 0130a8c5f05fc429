// Result types: the core never lets an exception cross its API (it builds with -fno-exceptions,
// Unreal's default). Every fallible call returns Result<T> or Outcome with a readable error.
#pragma once
#include <optional>
#include <string>
#include <utility>

namespace cosim {

class Outcome {
 public:
  static Outcome ok() { return Outcome(); }
  static Outcome fail(std::string error) { return Outcome(std::move(error)); }
  bool is_ok() const { return error_.empty(); }
  explicit operator bool() const { return is_ok(); }
  const std::string& error() const { return error_; }

 private:
  Outcome() = default;
  explicit Outcome(std::string e) : error_(e.empty() ? std::string("unspecified error") : std::move(e)) {}
  std::string error_;
};

template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Outcome failed) : error_(failed.error()) {}  // NOLINT(google-explicit-constructor)
  static Result fail(std::string error) { return Result(Outcome::fail(std::move(error))); }
  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const std::string& error() const { return error_; }
  // Precondition: is_ok(). (std::optional::operator* does not throw.)
  const T& value() const { return *value_; }
  T& value() { return *value_; }
  T take() { return std::move(*value_); }

 private:
  std::optional<T> value_;
  std::string error_;
};

}  // namespace cosim

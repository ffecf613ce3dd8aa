//===- Progress.h - progress lines for slow driver steps --------*- C++ -*-===//
//
// Part of llmc. Internal to lib/Driver. A step that is still running after
// a second gets a line on stderr ("llmc: lower..."), so quick steps stay
// silent and slow ones show where the time goes.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_DRIVER_PROGRESS_H
#define LLMC_LIB_DRIVER_PROGRESS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace llmc::driver {

class Stopwatch {
public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  }

private:
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
};

class Progress {
public:
  Progress(llvm::raw_ostream &os, bool enabled) : os(os), enabled(enabled) {
    if (enabled)
      watcher = std::thread([this] { watch(); });
  }
  ~Progress() { done(); }

  /// A new step begins.
  void stage(llvm::StringRef name) {
    std::lock_guard<std::mutex> lock(mutex);
    finishLocked();
    current = name.str();
    started = std::chrono::steady_clock::now();
    announced = false;
    wake.notify_all();
  }

  /// No more steps.
  void done() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping)
        return;
      finishLocked();
      stopping = true;
      wake.notify_all();
    }
    if (watcher.joinable())
      watcher.join();
  }

private:
  void finishLocked() {
    if (announced)
      os << "llmc: " << current << " done ("
         << llvm::format("%.1f", std::chrono::duration<double>(
                                     std::chrono::steady_clock::now() - started)
                                     .count())
         << " s)\n";
    announced = false;
    current.clear();
  }

  void watch() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopping) {
      if (!current.empty() && !announced &&
          std::chrono::steady_clock::now() - started >= std::chrono::seconds(1)) {
        os << "llmc: " << current << "...\n";
        os.flush();
        announced = true;
      }
      wake.wait_for(lock, std::chrono::milliseconds(100));
    }
  }

  llvm::raw_ostream &os;
  bool enabled;
  std::mutex mutex;
  std::condition_variable wake;
  std::thread watcher;
  std::string current;
  std::chrono::steady_clock::time_point started;
  bool announced = false;
  bool stopping = false;
};

} // namespace llmc::driver

#endif // LLMC_LIB_DRIVER_PROGRESS_H

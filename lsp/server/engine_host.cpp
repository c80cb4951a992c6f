// The model side of the server (see engine_host.h).
#include "lsp/server/engine_host.h"

#include "lsp/server/redacting_generator.h"

#include <spdlog/spdlog.h>

namespace moecode::server {

EngineHost::EngineHost(GeneratorFactory factory, std::unique_ptr<assist::ContextProvider> provider)
    : factory_(std::move(factory)),
      provider_(provider ? std::move(provider) : std::make_unique<assist::WindowContextProvider>()),
      scheduler_(std::make_unique<assist::Scheduler>()) {}

EngineHost::~EngineHost() { scheduler_.reset(); }

void EngineHost::ensure_model(const ModelSpec& spec, std::function<void(const Status&)> done) {
  {
    std::lock_guard lock(mu_);
    if (spec == wanted_ && (loading_ || (generator_ && spec == loaded_))) {
      if (!done) return;
    }
    wanted_ = spec;
    loading_ = true;
  }
  scheduler_->submit(assist::Priority::kControl, [this, spec, done](const assist::CancelToken&, bool dropped) {
    if (dropped) {
      if (done) done(make_error(ErrorCode::kCancelled, "model load cancelled: the server is stopping"));
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (generator_ && spec == loaded_) {
        loading_ = !(wanted_ == spec);
        if (done) done(Status::ok_status());
        return;
      }
      if (!(wanted_ == spec)) {  // superseded by a later ensure_model(); that job loads
        if (done) done(Status::ok_status());
        return;
      }
    }
    Status status;
    if (!spec.has_model()) {
      std::lock_guard lock(mu_);
      completer_.reset();
      generator_.reset();
      loaded_ = spec;
      loading_ = false;
      failed_stamp_.reset();
      description_ = "no model";
      status = make_error(ErrorCode::kNotFound, "no model configured");
    } else {
      if (spec.remote.enabled()) {
        spdlog::info("engine: connecting to the remote engine ({} {})", spec.remote.preset, spec.remote.base_url);
      } else {
        spdlog::info("engine: loading model {}", spec.path);
      }
      const assist::FileStamp stamp = assist::file_stamp(spec.path);
      auto g = factory_(spec);
      std::lock_guard lock(mu_);
      loading_ = false;
      if (!g.ok()) {
        spdlog::error("engine: {}", g.error().message());
        completer_.reset();
        generator_.reset();
        loaded_ = spec;
        description_ = "model failed to load: " + g.error().message();
        failed_stamp_ = stamp;
        status = g.error();
      } else {
        failed_stamp_.reset();
        completer_.reset();
        generator_ = redacting(std::move(*g));
        completer_ = std::make_unique<assist::Completer>(*generator_, *provider_);
        loaded_ = spec;
        description_ = generator_->describe();
        spdlog::info("engine: model ready: {} (FIM format: {})", description_, completer_->format().name);
      }
    }
    if (done) done(status);
  });
}

void EngineHost::set_generator(std::unique_ptr<assist::Generator> generator, const ModelSpec& spec) {
  std::lock_guard lock(mu_);
  completer_.reset();
  generator_ = redacting(std::move(generator));
  if (generator_) completer_ = std::make_unique<assist::Completer>(*generator_, *provider_);
  loaded_ = wanted_ = spec;
  loading_ = false;
  failed_stamp_.reset();
  description_ = generator_ ? generator_->describe() : "no model";
}

assist::Completer* EngineHost::completer() {
  revalidate();
  std::lock_guard lock(mu_);
  return completer_.get();
}

assist::Generator* EngineHost::generator() {
  revalidate();
  std::lock_guard lock(mu_);
  return generator_.get();
}

void EngineHost::revalidate() {
  ModelSpec spec;
  std::string why;
  {
    std::lock_guard lock(mu_);
    if (loaded_.path.empty() || !(wanted_ == loaded_) || loading_) return;  // a load is on its way
    if (generator_) {
      const Status st = generator_->check();
      if (st.ok()) return;
      why = st.error().message();
    } else {
      // A load that failed: retried once the file is different (a download that finished).
      if (!failed_stamp_) return;
      const assist::FileStamp now = assist::file_stamp(loaded_.path);
      if (!now.exists || now == *failed_stamp_) return;
      why = "model file '" + loaded_.path + "' changed on disk";
    }
    spec = loaded_;
    completer_.reset();
    generator_.reset();
    description_ = "reloading the model: " + why;
  }
  // Out of the lock: describe() stays answerable while a large model loads.
  spdlog::warn("engine: {}: reloading it", why);
  const assist::FileStamp stamp = assist::file_stamp(spec.path);
  auto g = factory_(spec);
  std::lock_guard lock(mu_);
  ++n_reloads_;
  if (!g.ok()) {
    spdlog::error("engine: reloading the model failed: {}", g.error().message());
    failed_stamp_ = stamp;
    description_ = "model failed to load: " + why + "; reloading it failed: " + g.error().message();
    return;
  }
  failed_stamp_.reset();
  generator_ = redacting(std::move(*g));
  completer_ = std::make_unique<assist::Completer>(*generator_, *provider_);
  description_ = generator_->describe();
  spdlog::info("engine: model reloaded: {}", description_);
}

uint64_t EngineHost::n_reloads() const {
  std::lock_guard lock(mu_);
  return n_reloads_;
}

Result<assist::ContextPreview> EngineHost::preview_context(const assist::CompletionRequest& request,
                                                           const assist::CancelToken& cancel) {
  if (assist::Completer* c = completer()) return c->preview(request, cancel);
  return assist::preview_without_model(*provider_, request, cancel);
}

bool EngineHost::has_model() const {
  std::lock_guard lock(mu_);
  return generator_ != nullptr;
}

std::string EngineHost::describe() const {
  std::lock_guard lock(mu_);
  return description_;
}

}  // namespace moecode::server

// clang-19's driver and compiler in the calling process: the loadable
// module (libvisor-clang.so) the compile server keeps mapped, so that a
// compile costs clang's own work and not its ~0.15 s start-up (loading
// and initialising libLLVM and libclang-cpp). The only C++ in visor; the
// interface is C (clang_inprocess.h) and the module is loaded with dlopen,
// so nothing else in visor links C++ or LLVM.
#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/DiagnosticIDs.h>
#include <clang/Basic/DiagnosticOptions.h>
#include <clang/Driver/Compilation.h>
#include <clang/Driver/Driver.h>
#include <clang/Driver/Job.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <clang/FrontendTool/Utils.h>
#include <llvm/ADT/IntrusiveRefCntPtr.h>
#include <llvm/Support/raw_ostream.h>

#include <memory>
#include <vector>

#include "clang_inprocess.h"

extern "C" {
void LLVMInitializeBPFTargetInfo(void);
void LLVMInitializeBPFTarget(void);
void LLVMInitializeBPFTargetMC(void);
void LLVMInitializeBPFAsmPrinter(void);
}

extern "C" __attribute__((visibility("default"))) int visor_clang_inprocess_init(void)
{
	// Only the BPF back end: what `-target bpf` needs.
	LLVMInitializeBPFTargetInfo();
	LLVMInitializeBPFTarget();
	LLVMInitializeBPFTargetMC();
	LLVMInitializeBPFAsmPrinter();
	return VISOR_CLANG_INPROCESS_ABI;
}

// The driver turns the command line into exactly one compiler job (-c),
// whose cc1 arguments run here as clang's own cc1_main would run them.
extern "C" __attribute__((visibility("default"))) int
visor_clang_inprocess_compile(int argc, const char *const *argv)
{
	if (argc < 2 || !argv || !argv[0])
		return 2;
	std::vector<const char *> args(argv, argv + argc);
	llvm::IntrusiveRefCntPtr<clang::DiagnosticOptions> dopts = new clang::DiagnosticOptions();
	auto *printer = new clang::TextDiagnosticPrinter(llvm::errs(), dopts.get());
	llvm::IntrusiveRefCntPtr<clang::DiagnosticsEngine> diags =
		new clang::DiagnosticsEngine(new clang::DiagnosticIDs(), dopts, printer);
	clang::driver::Driver driver(args[0], "bpf", *diags);
	std::unique_ptr<clang::driver::Compilation> comp(driver.BuildCompilation(args));
	if (!comp || comp->containsError()) {
		llvm::errs().flush();
		return 2;
	}
	const clang::driver::JobList &jobs = comp->getJobs();
	if (jobs.size() != 1) {
		llvm::errs() << "error: visor's in-process clang expects one compile job, the driver made "
			     << jobs.size() << "\n";
		return 2;
	}
	const clang::driver::Command &job = *jobs.begin();
	auto inv = std::make_shared<clang::CompilerInvocation>();
	if (!clang::CompilerInvocation::CreateFromArgs(*inv, job.getArguments(), *diags, args[0])) {
		llvm::errs().flush();
		return 1;
	}
	clang::CompilerInstance ci;
	ci.setInvocation(inv);
	ci.createDiagnostics();
	bool ok = clang::ExecuteCompilerInvocation(&ci);
	llvm::errs().flush();
	return ok && !ci.getDiagnostics().hasErrorOccurred() ? 0 : 1;
}

// grpc_echo: a gRPC C++ unary echo server and its clients in one process,
// the baseline rpc_bench compares frep with (DESIGN §6). Bench-only: built
// only when libgrpc++-dev and grpc_cpp_plugin are found (BENCH_PACKAGES).
//
//   grpc_echo --url unix:/path.sock|127.0.0.1:PORT --payload BYTES
//             --threads N --calls N
//
// It serves frep.test.v1.Echo/Echo (tests/proto/frep_test.proto, the same
// messages frep's echo uses) with the synchronous server API, warms up with
// 200 calls per thread, then runs N client threads on one channel, each
// making --calls blocking unary calls, exactly like rpc_bench's frep and raw
// rows. Prints one line: "p50_us p99_us calls_per_s errors".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "frep_test.grpc.pb.h"

namespace {

class EchoImpl final : public frep::test::v1::Echo::Service {
	grpc::Status Echo(grpc::ServerContext *, const frep::test::v1::EchoRequest *req,
	    frep::test::v1::EchoResponse *resp) override
	{
		resp->set_data(req->data());
		resp->set_tag(req->tag());
		return grpc::Status::OK;
	}
};

long long
now_ns()
{
	return std::chrono::duration_cast<std::chrono::nanoseconds>(
	    std::chrono::steady_clock::now().time_since_epoch())
	    .count();
}

struct Run {
	unsigned               calls;
	std::vector<long long> lat;
	unsigned               errors = 0;
};

void
client_main(frep::test::v1::Echo::Stub *stub, size_t payload, Run *r)
{
	frep::test::v1::EchoRequest req;
	// The payload is the whole request message, like rpc_bench's rows.
	req.set_data(std::string(payload > 4 ? payload - 4 : payload, '\0'));
	r->lat.assign(r->calls, 0);
	for (unsigned i = 0; i < r->calls; i++) {
		frep::test::v1::EchoResponse resp;
		grpc::ClientContext          ctx;
		ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
		long long    t0 = now_ns();
		grpc::Status st = stub->Echo(&ctx, req, &resp);
		if (!st.ok()) {
			r->errors++;
			continue;
		}
		r->lat[i] = now_ns() - t0;
	}
}

void
run_clients(
    frep::test::v1::Echo::Stub *stub, size_t payload, unsigned threads, std::vector<Run> &runs)
{
	std::vector<std::thread> t;
	for (unsigned i = 0; i < threads; i++) {
		t.emplace_back(client_main, stub, payload, &runs[i]);
	}
	for (auto &th : t) {
		th.join();
	}
}

} // namespace

int
main(int argc, char **argv)
{
	std::string url;
	size_t      payload = 64;
	unsigned    threads = 1, calls = 1000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (std::strcmp(argv[i], "--url") == 0) {
			url = argv[i + 1];
		} else if (std::strcmp(argv[i], "--payload") == 0) {
			payload = std::strtoul(argv[i + 1], nullptr, 10);
		} else if (std::strcmp(argv[i], "--threads") == 0) {
			threads = (unsigned) std::strtoul(argv[i + 1], nullptr, 10);
		} else if (std::strcmp(argv[i], "--calls") == 0) {
			calls = (unsigned) std::strtoul(argv[i + 1], nullptr, 10);
		}
	}
	if (url.empty() || threads == 0 || threads > 64 || calls == 0) {
		std::fprintf(stderr, "usage: grpc_echo --url URL --payload BYTES --threads N "
				     "--calls N\n");
		return 2;
	}

	EchoImpl            service;
	grpc::ServerBuilder builder;
	builder.AddListeningPort(url, grpc::InsecureServerCredentials());
	builder.RegisterService(&service);
	builder.SetMaxReceiveMessageSize(16 << 20);
	builder.SetMaxSendMessageSize(16 << 20);
	std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
	if (!server) {
		std::fprintf(stderr, "grpc_echo: cannot listen on %s\n", url.c_str());
		return 1;
	}

	grpc::ChannelArguments args;
	args.SetMaxReceiveMessageSize(16 << 20);
	args.SetMaxSendMessageSize(16 << 20);
	auto channel = grpc::CreateCustomChannel(url, grpc::InsecureChannelCredentials(), args);
	auto stub    = frep::test::v1::Echo::NewStub(channel);

	// Warm up: the connection, the server's threads, allocations.
	std::vector<Run> warm(threads);
	for (auto &r : warm) {
		r.calls = 200;
	}
	run_clients(stub.get(), payload, threads, warm);

	std::vector<Run> runs(threads);
	for (auto &r : runs) {
		r.calls = calls;
	}
	long long t0 = now_ns();
	run_clients(stub.get(), payload, threads, runs);
	long long elapsed = now_ns() - t0;

	std::vector<long long> all;
	unsigned               errors = 0;
	for (auto &r : runs) {
		errors += r.errors;
		for (long long l : r.lat) {
			if (l > 0) {
				all.push_back(l);
			}
		}
	}
	std::sort(all.begin(), all.end());
	double p50 = all.empty() ? 0 : (double) all[all.size() / 2] / 1000.0;
	double p99 = all.empty() ? 0 : (double) all[(all.size() * 99) / 100] / 1000.0;
	std::printf("%.1f %.1f %.0f %u\n", p50, p99, (double) all.size() / ((double) elapsed / 1e9),
	    errors);
	std::fflush(stdout);
	stub.reset();
	channel.reset();
	server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
	return 0;
}

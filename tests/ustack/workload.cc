// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// The --ustack tests' C++ workload: each method of its own leaves one kind
// of kernel object behind, so a report must name the method under that
// object's kernel frames. Built by the tests, -O2, with and without frame
// pointers. Usage: workload [-d] [-n N] [-s SECONDS]: opens N files, makes N
// sockets, then forks N children that inherit them and sleep SECONDS
// (default 10): the process exits at once, and its objects (the children's
// task_structs, the files and sockets they hold) outlive it, made under its
// methods' user stacks. -d: the sockets are made under a frame of 16 KiB,
// larger than the stack --ustack=dwarf copies, where unwinding must stop.
#include <cstdio>
// VARIANT: another build of the same source (another build ID, another
// namespace), for the tests of a binary replaced on disk: a frame named from
// the wrong build shows kleakvariant::
#ifndef VARIANT
#define VARIANT 0
#endif
#if VARIANT
#define KLEAK_NS kleakvariant
#else
#define KLEAK_NS kleaktest
#endif
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace KLEAK_NS {

class Holder {
public:
	Holder(int n, bool deep) : n_(n), deep_(deep) {}
	// noinline: each object kind is made in a frame of its own name
	__attribute__((noinline)) void openFiles(const std::string &path);
	__attribute__((noinline)) void forkChildren(unsigned seconds);
	__attribute__((noinline)) void makeSockets(int domain);
	__attribute__((noinline)) void makeSocketsDeep(int domain);
	// calls the three: with frame pointers, the caller of a libc syscall
	// wrapper (which sets up no frame) is skipped, its caller is seen
	__attribute__((noinline)) void run(unsigned seconds);

private:
	int n_;
	bool deep_;
	std::vector<int> fds_;
};

void Holder::openFiles(const std::string &path)
{
	for (int i = 0; i < n_; i++) {
		int fd = open(path.c_str(), O_RDONLY);
		if (fd < 0) {
			perror("open");
			exit(1);
		}
		fds_.push_back(fd);
	}
}

void Holder::forkChildren(unsigned seconds)
{
	for (int i = 0; i < n_; i++) {
		pid_t p = fork();
		if (p < 0) {
			perror("fork");
			exit(1);
		}
		if (!p) {
			sleep(seconds);
			_exit(0);
		}
	}
}

void Holder::makeSockets(int domain)
{
	for (int i = 0; i < n_; i++) {
		int fd = socket(domain, SOCK_DGRAM, 0);
		if (fd < 0) {
			perror("socket");
			exit(1);
		}
		fds_.push_back(fd);
	}
}

void Holder::makeSocketsDeep(int domain)
{
	char pad[16384];

	// the frame is kept whole: the compiler sees the buffer used
	memset(pad, 1, sizeof(pad));
	asm volatile("" : : "r"(pad) : "memory");
	makeSockets(domain + pad[sizeof(pad) - 1] - 1);
}

void Holder::run(unsigned seconds)
{
	openFiles("/proc/self/stat");
	if (deep_)
		makeSocketsDeep(AF_UNIX);
	else
		makeSockets(AF_UNIX);
	forkChildren(seconds);
}

} // namespace KLEAK_NS

int main(int argc, char **argv)
{
	unsigned seconds = 10;
	bool deep = false;
	int n = 50, opt;

	if (VARIANT)
		fputs("variant build\n", stderr);
	while ((opt = getopt(argc, argv, "dn:s:")) != -1) {
		if (opt == 'd')
			deep = true;
		else if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 's')
			seconds = atoi(optarg);
		else
			return 2;
	}
	KLEAK_NS::Holder h(n, deep);
	h.run(seconds);
	return 0;
}

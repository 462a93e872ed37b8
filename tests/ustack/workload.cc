// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// The --ustack tests' C++ workload: each method of its own leaves one kind
// of kernel object behind, so a report must name the method under that
// object's kernel frames. Built by the tests, -O2, with and without frame
// pointers. Usage: workload [-n N] [-s SECONDS]: opens N files, makes N
// sockets, then forks N children that inherit them and sleep SECONDS
// (default 10): the process exits at once, and its objects (the children's
// task_structs, the files and sockets they hold) outlive it, made under its
// methods' user stacks.
#include <cstdio>
// VARIANT: another build of the same source (another build ID), for the test
// of a binary replaced on disk
#ifndef VARIANT
#define VARIANT 0
#endif
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace kleaktest {

class Holder {
public:
	explicit Holder(int n) : n_(n) {}
	// noinline: each object kind is made in a frame of its own name
	__attribute__((noinline)) void openFiles(const std::string &path);
	__attribute__((noinline)) void forkChildren(unsigned seconds);
	__attribute__((noinline)) void makeSockets(int domain);
	// calls the three: with frame pointers, the caller of a libc syscall
	// wrapper (which sets up no frame) is skipped, its caller is seen
	__attribute__((noinline)) void run(unsigned seconds);

private:
	int n_;
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

void Holder::run(unsigned seconds)
{
	openFiles("/proc/self/stat");
	makeSockets(AF_UNIX);
	forkChildren(seconds);
}

} // namespace kleaktest

int main(int argc, char **argv)
{
	unsigned seconds = 10;
	int n = 50, opt;

	if (VARIANT)
		fputs("variant build\n", stderr);
	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 's')
			seconds = atoi(optarg);
		else
			return 2;
	}
	kleaktest::Holder h(n);
	h.run(seconds);
	return 0;
}

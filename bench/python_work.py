"""A fixed amount of CPU-bound Python work (nested calls, a hot inner loop); prints
the CPU seconds the process used, which is what bench/python.sh compares.
Usage: python_work.py ROUNDS"""
import sys
import time


def leaf(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def middle(n):
    return leaf(n) + leaf(n // 2)


def outer(rounds):
    t = 0
    for _ in range(rounds):
        t += middle(20000)
    return t


def main():
    t0 = time.process_time()
    outer(int(sys.argv[1]))
    print(f"{time.process_time() - t0:.4f}")


if __name__ == "__main__":
    main()

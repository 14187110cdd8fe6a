"""Reading a role's task files for tests that check what the tasks may do."""


def walk(tasks):
    """Every task of a task list, the tasks inside block, rescue and always included."""
    for task in tasks or []:
        yield task
        for key in ("block", "rescue", "always"):
            if key in task:
                yield from walk(task[key])

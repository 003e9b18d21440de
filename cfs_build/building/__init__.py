"""Running generations: the plan, doit tasks, sessions, replies, progress and verify."""

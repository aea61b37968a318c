CREATE TABLE "job_ticks" (
	"job" text PRIMARY KEY NOT NULL,
	"tick" timestamp with time zone NOT NULL
);

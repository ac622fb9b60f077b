-- Each alertable change of a finding (a new state, a reopening) gets its own alert event key.
ALTER TABLE "InspectionFinding" ADD COLUMN "alertSequence" INTEGER NOT NULL DEFAULT 0;

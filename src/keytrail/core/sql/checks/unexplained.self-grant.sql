-- Grants and certifications whose actor or approver is the subject, or approved by their actor.
action IN ('grant', 'certify') AND (actor = subject OR approver = actor OR approver = subject)

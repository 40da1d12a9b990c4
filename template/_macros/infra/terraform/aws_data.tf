# The environment's state: a KMS key, the application's secret, and the database and cache it chose.
data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  sql     = contains(["postgresql", "mysql"], var.database_engine)
  engines = { postgresql = "postgres", mysql = "mysql" }
  versions = { postgresql = "16", mysql = "8.4" }
  ports    = { postgresql = 5432, mysql = 3306, mongodb = 27017 }
  logs     = { postgresql = ["postgresql", "upgrade"], mysql = ["error", "slowquery"] }
  data_ports = concat(var.database_engine == "none" ? [] : [local.ports[var.database_engine]], var.cache ? [6379] : [])
}

resource "aws_kms_key" "this" {
  description         = "${var.name} secrets and data"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
}

data "aws_iam_policy_document" "key" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  # The log groups of the app, the load balancer and the cluster are encrypted with this key.
  statement {
    sid       = "CloudWatchLogsEncrypt"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }
}

# Values are set outside Terraform (aws secretsmanager put-secret-value): never in state or git.
resource "aws_secretsmanager_secret" "app" {
  name                    = var.secret_name
  description             = "Secret environment variables of ${var.name}"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.ephemeral ? 0 : 30
}

resource "aws_security_group" "data" {
  name        = "${var.name}-data"
  description = "Database and cache of ${var.name}: reachable from the private subnets only"
  vpc_id      = var.vpc_id

  dynamic "ingress" {
    for_each = toset(local.data_ports)
    content {
      description = "Clients in the private subnets"
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = var.allowed_cidr_blocks
    }
  }
}

resource "aws_db_subnet_group" "this" {
  count      = local.sql ? 1 : 0
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_iam_role" "monitoring" {
  count = local.sql ? 1 : 0
  name  = "${var.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  count      = local.sql ? 1 : 0
  role       = aws_iam_role.monitoring[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_parameter_group" "this" {
  count  = local.sql ? 1 : 0
  name   = var.name
  family = var.database_engine == "postgresql" ? "postgres16" : "mysql8.4"

  dynamic "parameter" {
    for_each = var.database_engine == "postgresql" ? {
      "rds.force_ssl"            = "1"
      log_min_duration_statement = "1000"
      log_connections            = "1"
      } : {
      require_secure_transport = "ON"
      slow_query_log           = "1"
      long_query_time          = "1"
    }
    content {
      name  = parameter.key
      value = parameter.value
    }
  }
}

# Automated backups give point-in-time recovery within the retention window (RDS keeps at most 35 days).
resource "aws_db_instance" "this" {
  count                                 = local.sql ? 1 : 0
  identifier                            = var.name
  engine                                = local.engines[var.database_engine]
  engine_version                        = local.versions[var.database_engine]
  instance_class                        = var.instance_class
  allocated_storage                     = var.high_availability ? 100 : 20
  max_allocated_storage                 = var.high_availability ? 1000 : 100
  storage_type                          = "gp3"
  storage_encrypted                     = true
  kms_key_id                            = aws_kms_key.this.arn
  db_name                               = replace(var.name, "-", "_")
  username                              = "app"
  manage_master_user_password           = true
  master_user_secret_kms_key_id         = aws_kms_key.this.arn
  iam_database_authentication_enabled   = true
  multi_az                              = var.high_availability
  db_subnet_group_name                  = aws_db_subnet_group.this[0].name
  parameter_group_name                  = aws_db_parameter_group.this[0].name
  vpc_security_group_ids                = [aws_security_group.data.id]
  publicly_accessible                   = false
  backup_retention_period               = min(var.backup_retention_days, 35)
  backup_window                         = "02:00-03:00"
  maintenance_window                    = "sun:04:00-sun:05:00"
  copy_tags_to_snapshot                 = true
  deletion_protection                   = var.deletion_protection
  skip_final_snapshot                   = var.ephemeral
  final_snapshot_identifier             = var.ephemeral ? null : "${var.name}-final"
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.this.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring[0].arn
  enabled_cloudwatch_logs_exports       = local.logs[var.database_engine]
}

resource "aws_docdb_subnet_group" "this" {
  count      = var.database_engine == "mongodb" ? 1 : 0
  name       = var.name
  subnet_ids = var.subnet_ids
}

# MongoDB-compatible: Amazon DocumentDB, encrypted, with audit and profiler logs.
resource "aws_docdb_cluster" "this" {
  count                           = var.database_engine == "mongodb" ? 1 : 0
  cluster_identifier              = var.name
  engine                          = "docdb"
  master_username                 = "app"
  manage_master_user_password     = true
  db_subnet_group_name            = aws_docdb_subnet_group.this[0].name
  vpc_security_group_ids          = [aws_security_group.data.id]
  storage_encrypted               = true
  kms_key_id                      = aws_kms_key.this.arn
  backup_retention_period         = min(var.backup_retention_days, 35)
  preferred_backup_window         = "02:00-03:00"
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = var.ephemeral
  final_snapshot_identifier       = var.ephemeral ? null : "${var.name}-final"
  enabled_cloudwatch_logs_exports = ["audit", "profiler"]
}

resource "aws_docdb_cluster_instance" "this" {
  count              = var.database_engine == "mongodb" ? (var.high_availability ? 2 : 1) : 0
  identifier         = "${var.name}-${count.index}"
  cluster_identifier = aws_docdb_cluster.this[0].id
  instance_class     = var.instance_class
}

resource "aws_elasticache_subnet_group" "this" {
  count      = var.cache ? 1 : 0
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_elasticache_replication_group" "this" {
  count                      = var.cache ? 1 : 0
  replication_group_id       = var.name
  description                = "Cache and queues of ${var.name}"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.cache_node_type
  num_cache_clusters         = var.high_availability ? 2 : 1
  automatic_failover_enabled = var.high_availability
  multi_az_enabled           = var.high_availability
  subnet_group_name          = aws_elasticache_subnet_group.this[0].name
  security_group_ids         = [aws_security_group.data.id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  kms_key_id                 = aws_kms_key.this.arn
  snapshot_retention_limit   = 7
  auto_minor_version_upgrade = true
}
{%- if database != 'none' and (backup_retention_days > 35 or backup_strategy == 'continuous') %}

# AWS Backup keeps {{ backup_retention_days }} days (backup_retention_days) beyond RDS's 35-day automated window
{%- if backup_strategy == 'continuous' %}, with continuous backups for point-in-time restore{% endif %}.
# Not for ephemeral (preview) stacks: recovery points would keep the vault from being destroyed.
resource "aws_backup_vault" "this" {
  count       = var.ephemeral ? 0 : 1
  name        = var.name
  kms_key_arn = aws_kms_key.this.arn
}

resource "aws_backup_plan" "this" {
  count = var.ephemeral ? 0 : 1
  name  = var.name

  rule {
    rule_name                = "{{ backup_strategy }}"
    target_vault_name        = aws_backup_vault.this[0].name
    schedule                 = "{{ infra().aws_backup_cron }}"
    enable_continuous_backup = {{ 'true' if backup_strategy == 'continuous' else 'false' }}

    lifecycle {
      delete_after = {{ [backup_retention_days, 35] | min if backup_strategy == 'continuous' else backup_retention_days }}
    }
  }
}

resource "aws_iam_role" "backup" {
  count = var.ephemeral ? 0 : 1
  name  = "${var.name}-backup"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "backup.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "backup" {
  count      = var.ephemeral ? 0 : 1
  role       = aws_iam_role.backup[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
}

resource "aws_backup_selection" "this" {
  count        = var.ephemeral ? 0 : 1
  name         = var.name
  plan_id      = aws_backup_plan.this[0].id
  iam_role_arn = aws_iam_role.backup[0].arn
  resources    = concat(aws_db_instance.this[*].arn, aws_docdb_cluster.this[*].arn)
}
{%- endif %}

output "cluster_name" {
  description = "EKS cluster (aws eks update-kubeconfig --name <this>)"
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "API server endpoint"
  value       = aws_eks_cluster.this.endpoint
}
